using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Calls;

namespace Frontdesk.Tests.Platform;

/// <summary>Issue 14: generated malformed bodies at every write route the app maps.</summary>
public partial class MalformedInputTests
{
    [Fact]
    public async Task Every_write_route_answers_generated_malformed_bodies_without_a_5xx_and_a_refusal_stores_nothing()
    {
        var app = await host.AppAsync(twilio);
        host.Llm.Gap = TimeSpan.Zero;
        host.Llm.Tokens = 3;
        var battery = await RouteBattery.PrepareAsync(app);
        // Every member of every seed gets 7 of the 19 bad values, rotating, so each route sees all of them.
        var requests = await battery.RequestsAsync(perPath: 7);
        var routes = requests.Select(r => r.Route).ToHashSet();
        // Discovery works: the webhooks and the clinic routes are all there.
        foreach (var expected in new[] { "POST /vapi/webhook", "POST /vapi/llm/chat/completions", "POST /twilio/status", "POST /twilio/inbound",
                     "POST /api/clinics", "POST /functions/v1/claim_slot_atomic", "PUT /api/bookings/{clinicId}/{bookingId}" })
            Assert.Contains(expected, routes);

        var failures = new List<string>();
        var started = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyDictionary<string, long>? counted = null;   // the counts after the last refusal, still current
        foreach (var request in requests)
        {
            var before = counted ?? await StoredRows.OfClinicAsync(battery.ClinicId);
            counted = null;
            var createsClinics = request.Route == "POST /api/clinics";
            var clinicsBefore = createsClinics ? await StoredRows.ClinicsNamedAsync(battery.NamePrefix) : 0;
            using var message = request.Create();
            using var response = await battery.Client.SendAsync(message);
            var status = (int)response.StatusCode;
            if (status >= 500 && !Exempt(request.Route, response))
            {
                failures.Add($"{request.Route} [{request.Label}] → {status} {Shorten(await response.Content.ReadAsStringAsync())}");
                continue;
            }
            if (status >= 400)
            {
                var after = await StoredRows.OfClinicAsync(battery.ClinicId);
                // A refusal for authorization is audited (cross_tenant_denied, access_denied): that row is the point.
                var diff = StoredRows.Diff(before, status is 401 or 403 ? after.Where(a => a.Key != "audit_trail").ToDictionary() : after);
                if (diff.Length > 0 || createsClinics && await StoredRows.ClinicsNamedAsync(battery.NamePrefix) != clinicsBefore)
                    failures.Add($"{request.Route} [{request.Label}] → {status} but stored: {diff} {Shorten(await response.Content.ReadAsStringAsync())}");
                else
                    counted = after;
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {requests.Count} requests failed ({started.Elapsed.TotalSeconds:F0} s):\n"
            + string.Join("\n", failures.GroupBy(f => f[..f.IndexOf(" [", StringComparison.Ordinal)]).SelectMany(g => g.Take(8)))
            + "\n--- errors logged:\n" + string.Join("\n", host.Errors.Entries.Distinct().Take(40)));
    }

    /// <summary>5xx answers that are not about the input. Linking and syncing a practitioner's calendar
    /// need Google credentials; the hardened host has none (a second calendar worker on the shared
    /// database would take other tests' calendar jobs), so those routes say 503 "unavailable" for every
    /// body, good or bad.</summary>
    static bool Exempt(string route, HttpResponseMessage response) =>
        route.Contains("/api/clinics/{clinicId}/practitioners/{practitionerId}/calendar", StringComparison.Ordinal)
        && response.StatusCode == HttpStatusCode.ServiceUnavailable
        && response.Content.Headers.ContentType?.MediaType == "application/problem+json";

    static string Shorten(string s) => s.Length <= 300 ? s : s[..300] + "…";

    /// <summary>The poisoned connection: after a run of malformed inputs, ordinary requests got
    /// "Received unexpected backend message DataRow" 500s from connections the failures had left out
    /// of step (3 of 4 runs of the whole set). An app of its own with three pooled connections, so
    /// the run meets fresh connections as it did then: the measured inputs (twenty times) and the
    /// generated set, concurrently and shuffled; then 300 ordinary requests (creating a patient)
    /// over every connection. None gets a 5xx.</summary>
    [Fact]
    public async Task Ordinary_requests_after_a_run_of_malformed_inputs_never_get_a_5xx()
    {
        var small = new Npgsql.NpgsqlConnectionStringBuilder(TestApp.Db.DataSource.ConnectionString) { MaxPoolSize = 3 }.ConnectionString;
        await using var app = (await host.AppAsync(twilio)).WithWebHostBuilder(b => b.UseSetting("FRONTDESK_APP_DATABASE_URL", small));
        host.Llm.Gap = TimeSpan.Zero;
        host.Llm.Tokens = 3;
        var battery = await RouteBattery.PrepareAsync(app);
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 2);
        using var vapi = HardenedHost.VapiClient(app, secret);
        using var admin = HardenedHost.Bearer(app, TestApp.Token(Frontdesk.Platform.RequestClaims.ForClinic(clinic.Id, "replay-admin", "admin")));
        using var service = HardenedHost.Bearer(app, TestApp.ServiceToken());
        var measured = MeasuredCases(vapi, admin, service, clinic.Id, clinic.PatientIds.Count > 0 ? clinic.PatientIds[0] : Guid.NewGuid(), "Replay ");

        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        async Task OrdinaryAsync(CancellationToken ct)
        {
            using var response = await admin.PostAsJsonAsync($"/api/clinics/{clinic.Id}/patients",
                new { name = "Ordinary caller", phone = TwilioFixture.NewPhone() }, ct);
            if (response.StatusCode != HttpStatusCode.Created)
                failures.Enqueue($"{(int)response.StatusCode} {Shorten(await response.Content.ReadAsStringAsync(ct))}");
        }

        var generated = await battery.RequestsAsync(perPath: 7);
        var run = Enumerable.Range(0, 20).SelectMany(_ => measured.Select(m => (Func<CancellationToken, Task>)(async ct => (await m.Send()).Dispose())))
            .Concat(generated.Select(g => (Func<CancellationToken, Task>)(async ct =>
            {
                using var message = g.Create();
                (await battery.Client.SendAsync(message, ct)).Dispose();
            })))
            .OrderBy(_ => Random.Shared.Next());
        await Parallel.ForEachAsync(run, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (send, ct) => await send(ct));
        await Parallel.ForEachAsync(Enumerable.Range(0, 300), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) => await OrdinaryAsync(ct));
        Assert.True(failures.IsEmpty, $"{failures.Count} ordinary requests failed:\n" + string.Join("\n", failures.Take(10))
            + "\n--- errors logged:\n" + string.Join("\n", host.Errors.Entries.Where(e => e.Contains("Unhandled", StringComparison.Ordinal)).Distinct().Take(20)));
    }
}
