using System.Net;
using System.Text.Json;
using Npgsql;

namespace Frontdesk.Bench.Validate;

public sealed record ClinicFixture(Guid Id, Guid Practitioner, List<Guid> Slots, List<Guid> Patients, string VapiSecret);

/// <summary>State shared by the five tasks: the API, the report, what was created (for cleanup),
/// and optional direct database access for the integration checks.</summary>
public sealed class ValidationRun(Api api, ValidationReport report, TextWriter progress)
{
    public Api Api { get; } = api;
    public ValidationReport Report { get; } = report;
    public List<Guid> CreatedClinics { get; } = [];
    /// <summary>Owner connection to the target's database, when known (--local or --database-url).</summary>
    public string? DatabaseUrl { get; init; }
    /// <summary>Where SMS can be observed (the loopback fake Twilio), when available.</summary>
    public FakeTwilio? Twilio { get; init; }
    /// <summary>The upstream LLM the target streams from, when it is our loopback fake.</summary>
    public FakeLlm? Llm { get; init; }

    public void Progress(string line) => progress.WriteLine(line);

    public async Task<ClinicFixture> CreateClinicAsync(string label, int slots, int patients, string? smsFrom = null)
    {
        var svc = Api.ServiceToken();
        var secret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
        var clinic = await Api.Expect(Api.PostAsync("/api/clinics", svc, new
        {
            name = $"validate {label} {Guid.NewGuid():N}"[..40],
            timezone = "Europe/London",
            smsFrom,
            vapiAssistantId = $"asst_validate_{Guid.NewGuid():N}",
            vapiPhoneNumberId = $"pn_validate_{Guid.NewGuid():N}",
            vapiSecret = secret,
        }), "create clinic");
        var id = clinic.Id();
        CreatedClinics.Add(id);
        var practitioner = (await Api.Expect(Api.PostAsync($"/api/clinics/{id}/practitioners", svc, new { name = "Dr Validate" }), "create practitioner")).Id();
        var slotIds = new List<Guid>();
        // Start tomorrow 08:00 UTC, 15-minute slots.
        var start = new DateTimeOffset(DateTime.UtcNow.Date.AddDays(1).AddHours(8), TimeSpan.Zero);
        for (var made = 0; made < slots; made += 2000)
        {
            var n = Math.Min(2000, slots - made);
            var from = start.AddMinutes(15 * made);
            var gen = await Api.Expect(Api.PostAsync($"/api/clinics/{id}/slots", svc,
                new { practitionerId = practitioner, startsAt = from, endsAt = from.AddMinutes(15 * n), durationMinutes = 15 }), "create slots");
            slotIds.AddRange(gen.Body.GetProperty("slots").EnumerateArray().Select(s => s.GetProperty("id").GetGuid()));
        }
        var patientIds = new List<Guid>();
        for (var i = 0; i < patients; i++)
            patientIds.Add((await Api.Expect(Api.PostAsync($"/api/clinics/{id}/patients", svc,
                new { name = $"Validate Patient {i}", phone = $"+1202555{1000 + Random.Shared.Next(8999)}" }), "create patient")).Id());
        return new ClinicFixture(id, practitioner, slotIds, patientIds, secret);
    }

    /// <summary>Removes every clinic this run created (and only those).</summary>
    public async Task CleanupAsync()
    {
        var svc = Api.ServiceToken();
        foreach (var id in CreatedClinics)
        {
            var r = await Api.SendAsync(HttpMethod.Delete, $"/api/clinics/{id}", svc);
            if (r.Status is not (HttpStatusCode.NoContent or HttpStatusCode.NotFound))
                Progress($"  ! cleanup of clinic {id} answered {(int)r.Status}");
        }
    }

    public async Task<T?> SqlAsync<T>(string sql, params object[] args)
    {
        if (DatabaseUrl is null) return default;
        await using var conn = new NpgsqlConnection(DatabaseUrl);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var a in args) cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        var v = await cmd.ExecuteScalarAsync();
        return v is null or DBNull ? default : (T)v;
    }

    public static string Ms(double v) => $"{v:F1} ms";
    public static int Count(JsonElement array) => array.ValueKind == JsonValueKind.Array ? array.GetArrayLength() : 0;
}
