using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AngleSharp.Html.Parser;
using Frontdesk.Platform;
using Frontdesk.Privacy;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using PhoneNumbers;

namespace Frontdesk.Tests.Privacy;

/// <summary>
/// Issue 13's acceptance: a realistic call (a real-shaped end-of-call report whose transcript names the
/// caller, their number, their email and a medical condition) → the hang-up SMS at the fake Twilio →
/// the booking page → export → erasure; then no personal value of the caller is left in any column of
/// any table, their links are refused, and no log line of the whole run carried any of it.
/// </summary>
[Collection("twilio")]
public class PatientDataJourneyTests(TwilioFixture fx)
{
    /// <summary>A caller nobody else in the test run is: a made-up surname, a fresh number and email,
    /// and a condition that appears nowhere else in the repository or its fixtures.</summary>
    public sealed record Caller(string First, string Surname, string Phone, string National, string Email, string Condition)
    {
        public string FullName => $"{First} {Surname}";

        public string NationalDigits => National.Replace(" ", "", StringComparison.Ordinal);

        /// <summary>Everything that must never be found after erasure (or in a log line).</summary>
        public string[] Values => [FullName, Surname, Email, Phone, National, NationalDigits, Phone.TrimStart('+'), Condition];

        public static Caller New(string condition)
        {
            var letters = new string(Enumerable.Range(0, 7).Select(_ => (char)('a' + Random.Shared.Next(26))).ToArray());
            var surname = "Qu" + letters;
            var phone = TwilioFixture.NewPhone();
            var util = PhoneNumberUtil.GetInstance();
            var national = util.Format(util.Parse(phone, "GB"), PhoneNumberFormat.NATIONAL);
            return new Caller("Margaret", surname, phone, national, $"margaret.{surname}@example.net", condition);
        }
    }

    public static string Transcript(Caller c) =>
        "AI: Thank you for calling, this is Sarah. How can I help you today?\n" +
        $"User: Hi, my name is {c.FullName}. I'm thinking about having a rhinoplasty.\n" +
        "AI: Lovely, I can help with that. Could I take a contact number and an email address?\n" +
        $"User: Sure, my number is {c.National} and my email is {c.Email}.\n" +
        "AI: Thank you. Is there anything about your health the surgeon should know?\n" +
        $"User: I have {c.Condition}, is that a problem? Oh sorry, I have to go, bye.";

    /// <summary>An end-of-call report shaped like Vapi's (artifact, analysis, the start-of-call snapshot).</summary>
    public static object Report(string callId, Caller c, DateTimeOffset endedAt) => new
    {
        message = new
        {
            timestamp = endedAt.ToUnixTimeMilliseconds(),
            type = "end-of-call-report",
            endedReason = "customer-ended-call",
            startedAt = endedAt.AddMinutes(-3).ToString("O", CultureInfo.InvariantCulture),
            endedAt = endedAt.ToString("O", CultureInfo.InvariantCulture),
            cost = 0.2173,
            durationSeconds = 181.4,
            costBreakdown = new { transport = 0.01, stt = 0.02, llm = 0.15, tts = 0.03, vapi = 0.0073, total = 0.2173 },
            analysis = new
            {
                summary = $"{c.FullName} ({c.National}, {c.Email}) asked about rhinoplasty, mentioned {c.Condition} and hung up before booking.",
                structuredData = new { patientName = c.FullName, procedure = "Rhinoplasty", bookingConfirmed = false, email = c.Email },
                successEvaluation = "false",
            },
            artifact = new
            {
                transcript = Transcript(c),
                messages = Transcript(c).Split('\n').Select((line, i) => new
                {
                    role = line.StartsWith("AI:", StringComparison.Ordinal) ? "bot" : "user",
                    message = line[(line.IndexOf(':', StringComparison.Ordinal) + 2)..],
                    time = endedAt.AddMinutes(-3).AddSeconds(i * 20).ToUnixTimeMilliseconds(),
                    secondsFromStart = i * 20.0,
                    duration = 4200,
                }).ToArray(),
                messagesOpenAIFormatted = new object[] { new { role = "user", content = $"Hi, my name is {c.FullName}." } },
                recordingUrl = $"https://storage.vapi.ai/{callId}-mono.wav",
                stereoRecordingUrl = $"https://storage.vapi.ai/{callId}-stereo.wav",
                performanceMetrics = new
                {
                    turnLatencies = new object[] { new { modelLatency = 380, voiceLatency = 170, transcriberLatency = 80, endpointingLatency = 50, turnLatency = 680 } },
                },
            },
            call = new
            {
                id = callId, orgId = "org_1", type = "inboundPhoneCall", status = "queued",
                customer = new { number = c.Phone }, phoneNumberId = (string?)null,
            },
            customer = new { number = c.Phone, name = c.FullName },
            phoneNumber = new { number = "+15005550006" },
        },
    };

    static string LinkIn(string smsBody, string path)
    {
        var start = smsBody.IndexOf("https://frontdesk.test" + path, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no {path} link in: {smsBody}");
        var end = smsBody.IndexOfAny([' ', '\n'], start);
        return smsBody[(start + "https://frontdesk.test".Length)..(end < 0 ? smsBody.Length : end)].TrimEnd('.');
    }

    HttpClient Browser() => fx.App.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    sealed record Journey(Caller Caller, Guid ClinicId, Guid PatientId, string BookingPath, string CancelPath, JsonElement Export);

    /// <summary>Call → SMS → booking page → redaction of the call (the seed's Task 3) → export.</summary>
    async Task<Journey> RunUntilExportAsync(string condition)
    {
        var caller = Caller.New(condition);
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 4);
        var callId = Guid.NewGuid().ToString();

        Assert.Equal(HttpStatusCode.OK, (await fx.VapiAsync(secret, Report(callId, caller, DateTimeOffset.UtcNow))).StatusCode);
        var followUp = await fx.Fake.WaitForAsync(caller.Phone, TimeSpan.FromSeconds(10));
        Assert.StartsWith($"Hi {caller.FullName}, ", followUp.Body);
        var bookingPath = LinkIn(followUp.Body, "/book/");

        using var browser = Browser();
        var page = await browser.GetAsync(bookingPath);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var doc = await new HtmlParser().ParseDocumentAsync(await page.Content.ReadAsStringAsync());
        Assert.Contains(caller.FullName, doc.Body!.TextContent);
        var confirm = await browser.PostAsync(bookingPath, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["csrf"] = doc.QuerySelector("input[name=csrf]")!.GetAttribute("value")!,
            ["slot"] = doc.QuerySelector("input[type=radio][name=slot]")!.GetAttribute("value")!,
        }));
        Assert.Equal(HttpStatusCode.Redirect, confirm.StatusCode);
        var confirmation = await WaitForSecondAsync(caller.Phone);
        var cancelPath = LinkIn(confirmation.Body, "/book/cancel/");

        var patientId = await TestApp.ScalarAsync<Guid>("select patient_id from leads where clinic_id = $1", clinic.Id);
        using var reception = fx.As(clinic.Id, "receptionist");
        var redacted = await reception.PostAsJsonAsync("/functions/v1/redact_and_store_pii", new
        {
            clinicId = clinic.Id, patientId, callId,
            transcript = $"My name is {caller.FullName}, my email is {caller.Email} and my number is {caller.National}. I have {caller.Condition} and asthma.",
        });
        Assert.Equal(HttpStatusCode.OK, redacted.StatusCode);

        using var admin = fx.As(clinic.Id, "admin");
        var export = await TestClinic.Json(await admin.GetAsync($"/api/patients/{clinic.Id}/{patientId}/export"));
        return new Journey(caller, clinic.Id, patientId, bookingPath, cancelPath, export);
    }

    async Task<Bench.FakeSms> WaitForSecondAsync(string phone)
    {
        for (var i = 0; i < 100 && fx.Fake.For(phone).Count < 2; i++) await Task.Delay(100);
        Assert.Equal(2, fx.Fake.For(phone).Count);
        return fx.Fake.For(phone).OrderBy(m => m.ReceivedTimestamp).Last();
    }

    [Fact]
    public async Task After_a_real_call_follow_up_and_booking_erasure_leaves_no_personal_value_in_any_column_and_refuses_the_links()
    {
        var j = await RunUntilExportAsync("sarcoidosis");
        var c = j.Caller;

        // Export before erasure: the transcript and the messages, decrypted, and the SMS sent.
        var call = Assert.Single(j.Export.GetProperty("calls").EnumerateArray());
        Assert.Equal(Transcript(c), call.GetProperty("transcript").GetString());
        Assert.Contains(call.GetProperty("messages").EnumerateArray(), m => m.GetProperty("message").GetString()!.Contains(c.Condition, StringComparison.Ordinal));
        Assert.Equal(c.Phone, call.GetProperty("customerNumber").GetString());
        Assert.Contains(c.Condition, call.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.EndsWith("-mono.wav", call.GetProperty("recordingUrl").GetString(), StringComparison.Ordinal);
        Assert.Equal("Rhinoplasty", call.GetProperty("procedure").GetString());
        var lead = Assert.Single(j.Export.GetProperty("leads").EnumerateArray());
        Assert.Equal(c.Phone, lead.GetProperty("phone").GetString());
        Assert.Equal(c.FullName, lead.GetProperty("name").GetString());
        Assert.Single(lead.GetProperty("followUps").EnumerateArray());
        var messages = j.Export.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(2, messages.Count);
        Assert.All(messages, m => Assert.Equal(c.Phone, m.GetProperty("to").GetString()));
        Assert.Contains(messages, m => m.GetProperty("body").GetString()!.StartsWith($"Hi {c.FullName}", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.GetProperty("body").GetString()!.Contains("consultation", StringComparison.Ordinal));
        Assert.Contains(j.Export.GetProperty("contacts").EnumerateArray(), x => x.GetProperty("value").GetString() == c.Email);
        Assert.Single(j.Export.GetProperty("bookings").EnumerateArray());
        Assert.Equal("gdpr_access", await TestApp.ScalarAsync<string>(
            "select detail ->> 'basis' from audit_trail where clinic_id = $1 and action = 'exported'", j.ClinicId));

        // Before erasure the values are really there to find (under the vault: only the tables that are plaintext by design).
        Assert.NotEmpty(await ScanAsync(c.Values));
        var callerHash = await CallerHashes.OfAsync(j.ClinicId, CallerSubject.Phone(c.Phone));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from caller_keys where clinic_id = $1 and caller_hash = $2", j.ClinicId, callerHash));
        var sealedBefore = await SealedRowsAsync(j.ClinicId);
        Assert.True(sealedBefore.Count >= 4, "call content, lead contact and two SMS are sealed");

        using var admin = fx.As(j.ClinicId, "admin");
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/patients/{j.ClinicId}/{j.PatientId}")).StatusCode);

        // Every text, jsonb and bytea column (text arrays, tsvectors, json too) of every table in every schema.
        var hits = await ScanAsync(c.Values);
        Assert.True(hits.Count == 0, "personal values left after erasure:\n  " + string.Join("\n  ", hits));

        // How the scan knows ciphertext is not a hiding place: the keys are gone. The patient's data key is
        // destroyed, the caller key of their number deleted, and no sealed value of this clinic is still
        // under either (so even a backup of the rows above opens to nothing).
        Assert.True(await TestApp.ScalarAsync<bool>(
            "select wrapped_key is null and destroyed_at is not null from patient_keys where clinic_id = $1 and patient_id = $2", j.ClinicId, j.PatientId));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from caller_keys where clinic_id = $1 and caller_hash = $2", j.ClinicId, callerHash));
        Assert.Empty(await SealedRowsAsync(j.ClinicId));
        var vault = fx.App.Services.GetRequiredService<Vault>();
        await using (var s = await TestApp.Db.BeginAsync(RequestClaims.ForClinic(j.ClinicId, "test", "admin"), default))
        {
            Assert.Null(await vault.OpenForCallerAsync(s, j.ClinicId, callerHash, default));
            Assert.Null(await vault.DecryptorAsync(s, j.ClinicId, j.PatientId, default));
        }
        Assert.Equal(0L, await TestApp.ScalarAsync<long>(
            "select count(*) from calls where clinic_id = $1 and (caller_hash is not null or content is not null)", j.ClinicId));
        // The audit trail keeps ids and counts, never values (the scan above covered its detail too).
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'erased'", j.ClinicId));

        // The links stop working, and nothing is re-created from them.
        var patientsBefore = await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", j.ClinicId);
        using var browser = Browser();
        var refused = await browser.GetAsync(j.BookingPath);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        var refusedDoc = await new HtmlParser().ParseDocumentAsync(await refused.Content.ReadAsStringAsync());
        Assert.Equal("This link is no longer valid", refusedDoc.QuerySelector("h1")!.TextContent);
        Assert.DoesNotContain(c.Surname, refusedDoc.Body!.TextContent, StringComparison.Ordinal);
        var posted = await browser.PostAsync(j.BookingPath, new FormUrlEncodedContent(new Dictionary<string, string> { ["slot"] = Guid.NewGuid().ToString() }));
        Assert.Equal(HttpStatusCode.NotFound, posted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync(j.CancelPath)).StatusCode);
        Assert.Equal(patientsBefore, await TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1", j.ClinicId));
        Assert.Empty(await ScanAsync(c.Values));
        // The appointment was cancelled with the erasure: its slot is free for others.
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from bookings where clinic_id = $1 and status = 'confirmed'", j.ClinicId));
    }

    [Fact]
    public async Task No_log_line_of_a_call_follow_up_booking_page_and_erasure_carries_a_name_number_email_token_or_transcript_fragment()
    {
        var mark = fx.Logs.Mark;
        var j = await RunUntilExportAsync("hidradenitis");
        using (var admin = fx.As(j.ClinicId, "admin"))
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/patients/{j.ClinicId}/{j.PatientId}")).StatusCode);
        using (var browser = Browser())
        {
            Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync(j.BookingPath)).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync(j.CancelPath + "?utm_source=sms")).StatusCode);
        }
        var lines = fx.Logs.Since(mark);

        // The levels that ship by default (appsettings.json) were in force: request lines are ours, with
        // route templates; ASP.NET Core's own (raw path and query) are off.
        Assert.Contains(lines, l => l.Category == "Frontdesk.Requests" && l.Text.Contains("GET /book/{token}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Category == "Frontdesk.Requests" && l.Text.Contains("GET /book/cancel/{token}", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Category.StartsWith("Microsoft.AspNetCore.Hosting", StringComparison.Ordinal) && l.Level < LogLevel.Warning);
        var c = j.Caller;
        string[] fragments =
        [
            .. c.Values, j.BookingPath["/book/".Length..], j.CancelPath["/book/cancel/".Length..], "utm_source",
            "thinking about having a rhinoplasty", "is that a problem", "anything about your health",
        ];
        var leaks = lines.SelectMany(l => fragments.Where(f => l.Text.Contains(f, StringComparison.OrdinalIgnoreCase)).Select(f => $"{l.Category}: {f}")).ToList();
        Assert.True(leaks.Count == 0, "personal data or secrets in log lines:\n  " + string.Join("\n  ", leaks));
    }

    /// <summary>Columns (schema.table.column) in which any of <paramref name="values"/> occurs (case-insensitive;
    /// bytea read as escaped text, so a plaintext stored as bytes is found too).</summary>
    public static async Task<IReadOnlyList<string>> ScanAsync(IEnumerable<string> values)
    {
        var patterns = values.Select(v => "%" + v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal)
            .Replace("_", "\\_", StringComparison.Ordinal) + "%").ToArray();
        await using var conn = await TestApp.AdminConnectionAsync();
        var columns = new List<(string Schema, string Table, string Column, string Type)>();
        await using (var cmd = new NpgsqlCommand("""
            select n.nspname, c.relname, a.attname, t.typname
            from pg_attribute a
            join pg_class c on c.oid = a.attrelid
            join pg_namespace n on n.oid = c.relnamespace
            join pg_type t on t.oid = a.atttypid
            left join pg_type e on e.oid = t.typelem and t.typcategory = 'A'
            where c.relkind in ('r', 'p', 'm') and a.attnum > 0 and not a.attisdropped
              and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'
              and (t.typcategory in ('S', 'A') or t.typname in ('json', 'jsonb', 'bytea', 'tsvector', 'xml'))
            order by 1, 2, 3
            """, conn))
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync()) columns.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        Assert.True(columns.Count > 50, "the scan sees the schema");
        Assert.Contains(columns, x => x.Table == "calls" && x.Column == "content" && x.Type == "bytea");

        var hits = new List<string>();
        foreach (var (schema, table, column, type) in columns)
        {
            var name = $"{Quote(schema)}.{Quote(table)}";
            var text = type == "bytea" ? $"encode({Quote(column)}, 'escape')" : $"{Quote(column)}::text";
            await using var cmd = new NpgsqlCommand($"select count(*) from {name} where {text} ilike any(@p)", conn);
            cmd.Parameters.AddWithValue("p", patterns);
            if ((long)(await cmd.ExecuteScalarAsync())! > 0) hits.Add($"{schema}.{table}.{column}");
        }
        return hits;
    }

    static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>Every sealed value of the clinic still in the database (table, row).</summary>
    static async Task<IReadOnlyList<string>> SealedRowsAsync(Guid clinicId)
    {
        await using var conn = await TestApp.AdminConnectionAsync();
        await using var cmd = new NpgsqlCommand("""
            select 'calls:' || call_id from calls where clinic_id = $1 and content is not null
            union all select 'leads:' || id from leads where clinic_id = $1 and content is not null
            union all select 'sms_messages:' || id from sms_messages where clinic_id = $1 and content is not null
            union all select 'clinical_notes:' || id from clinical_notes where clinic_id = $1
            union all select 'secure_identifiers:' || id from secure_identifiers where clinic_id = $1
            """, conn);
        cmd.Parameters.AddWithValue(clinicId);
        var rows = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
        return rows;
    }
}
