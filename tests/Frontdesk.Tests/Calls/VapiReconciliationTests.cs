using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Frontdesk.Bench;
using Frontdesk.Calls;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static Frontdesk.Tests.Calls.VapiPayloads;

namespace Frontdesk.Tests.Calls;

/// <summary>One instance on a database of its own, with loopback Twilio and Vapi: the only
/// reconciliation worker that sees these clinics' keys is this one, and it runs every second.</summary>
public sealed class ReconciliationFixture : IAsyncLifetime
{
    public const int PageLimit = 3;
    public FakeTwilio Twilio { get; private set; } = null!;
    public FakeVapi Vapi { get; private set; } = null!;
    public WebApplicationFactory<Program> App { get; private set; } = null!;
    string _connectionString = "";

    public async Task InitializeAsync()
    {
        _connectionString = await TestCluster.NewDatabaseAsync("frontdesk_vapi");
        Twilio = await FakeTwilio.StartAsync();
        Vapi = await FakeVapi.StartAsync();
        App = new FrontdeskFactory().WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_DATABASE_URL", _connectionString);
            b.UseSetting("FRONTDESK_APP_DATABASE_URL", new NpgsqlConnectionStringBuilder(TestCluster.AppConnectionString)
                { Database = new NpgsqlConnectionStringBuilder(_connectionString).Database }.ConnectionString);
            TwilioFixture.Configure(b, Twilio);
            b.UseSetting("FRONTDESK_VAPI_API_BASE_URL", Vapi.Url);
            b.UseSetting("FRONTDESK_VAPI_RECONCILE_SECONDS", "1");
            b.UseSetting("FRONTDESK_VAPI_RECONCILE_RETRY_BASE_SECONDS", "0.3");
            b.UseSetting("FRONTDESK_VAPI_RECONCILE_GRACE_SECONDS", "60");
            b.UseSetting("FRONTDESK_VAPI_RECONCILE_PAGE_LIMIT", PageLimit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        App.CreateClient().Dispose();
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Twilio.DisposeAsync();
        await Vapi.DisposeAsync();
    }

    public HttpClient Client(RequestClaims claims)
    {
        var c = App.CreateClient();
        c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.Token(claims));
        return c;
    }

    public HttpClient Service() => Client(new RequestClaims(RequestClaims.ServiceRole, null, "test-service", null));

    public HttpClient As(Guid clinicId, string appRole = "admin") => Client(RequestClaims.ForClinic(clinicId, "user-" + Guid.NewGuid().ToString("N"), appRole));

    /// <summary>A clinic with a Vapi secret, created with (or without) a Vapi API key.</summary>
    public async Task<(Guid Id, string Secret)> ClinicAsync(string? apiKey, string? phoneNumberId = null)
    {
        using var svc = Service();
        var secret = "vapi-" + Guid.NewGuid().ToString("N");
        var created = await svc.PostAsJsonAsync("/api/clinics", new
        {
            name = "Reconciled Clinic", timezone = "Europe/London", vapiSecret = secret, vapiApiKey = apiKey, vapiPhoneNumberId = phoneNumberId,
        });
        return ((await TestClinic.Json(created)).GetProperty("id").GetGuid(), secret);
    }

    public async Task<T?> ScalarAsync<T>(string sql, params object[] args)
    {
        await using var c = new NpgsqlConnection(_connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        foreach (var a in args) cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        var v = await cmd.ExecuteScalarAsync();
        return v is null or DBNull ? default : (T)v;
    }

    /// <summary>As if the key had been set <paramref name="ago"/>: reconciliation never looks before that.</summary>
    public Task BackdateKeyAsync(Guid clinicId, TimeSpan ago) =>
        ScalarAsync<int>("update vapi_reconciliation set created_at = now() - $2 where clinic_id = $1 returning 1", clinicId, ago);

    public async Task<JsonElement> StateAsync(Guid clinicId)
    {
        using var admin = As(clinicId);
        return await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinicId}/vapi/reconciliation"));
    }

    /// <summary>Waits (bounded) until the clinic's reconciliation state satisfies <paramref name="done"/>.</summary>
    public async Task<JsonElement> WaitForStateAsync(Guid clinicId, Func<JsonElement, bool> done, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var state = await StateAsync(clinicId);
            if (done(state)) return state;
            Assert.True(DateTime.UtcNow < until, $"reconciliation never got to: {what}; last state {state}");
            await Task.Delay(100);
        }
    }

    public async Task<IDictionary<string, string>> HealthAsync()
    {
        using var c = App.CreateClient();
        var health = await TestClinic.Json(await c.GetAsync("/healthz"));
        return health.GetProperty("details").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }
}

/// <summary>Issue 15, "Missed webhooks": calls whose end-of-call report never arrived are found by
/// asking Vapi, and get their follow-up exactly once whatever arrives later.</summary>
public class VapiReconciliationTests(ReconciliationFixture fx) : IClassFixture<ReconciliationFixture>
{
    const string Rhinoplasty = "AI: How can I help?\nUser: I'm interested in rhinoplasty. Oh I have to go, bye.";

    static string NewKey() => Guid.NewGuid().ToString();

    [Fact]
    public async Task A_call_whose_report_never_arrived_gets_its_follow_up_once_and_a_late_report_sends_nothing_more()
    {
        var key = NewKey();
        fx.Vapi.AddKey(key);
        var (clinic, secret) = await fx.ClinicAsync(apiKey: null);
        var delivered = NewCall();
        var deliveredPhone = TwilioFixture.NewPhone();
        using (var webhook = fx.App.CreateClient())
        {
            webhook.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);
            Assert.Equal(HttpStatusCode.OK, (await webhook.PostAsJsonAsync("/vapi/webhook", Report(delivered, deliveredPhone, Rhinoplasty, 1768385046123L))).StatusCode);
        }
        using (var admin = fx.As(clinic))
            Assert.Equal(HttpStatusCode.OK, (await admin.PatchAsJsonAsync($"/api/clinics/{clinic}", new { vapiApiKey = key })).StatusCode);
        await fx.BackdateKeyAsync(clinic, TimeSpan.FromMinutes(30));

        var now = DateTimeOffset.UtcNow;
        var missed = NewCall();
        var phone = TwilioFixture.NewPhone();
        fx.Vapi.AddCall(key, FakeVapi.EndedCall(missed, phone, Rhinoplasty, now.AddMinutes(-12), now.AddMinutes(-8)));
        fx.Vapi.AddCall(key, FakeVapi.EndedCall(delivered, deliveredPhone, Rhinoplasty, now.AddMinutes(-20), now.AddMinutes(-15)));
        // Not for reconciliation: still in progress, ended within the grace period, or from before the key was set.
        var live = TwilioFixture.NewPhone();
        fx.Vapi.AddCall(key, FakeVapi.EndedCall(NewCall(), live, Rhinoplasty, now.AddMinutes(-3), now, status: "in-progress"));
        var justEnded = TwilioFixture.NewPhone();
        fx.Vapi.AddCall(key, FakeVapi.EndedCall(NewCall(), justEnded, Rhinoplasty, now.AddMinutes(-4), now.AddSeconds(-5)));
        var history = TwilioFixture.NewPhone();
        fx.Vapi.AddCall(key, FakeVapi.EndedCall(NewCall(), history, Rhinoplasty, now.AddMinutes(-45), now.AddMinutes(-40)));

        var sms = await fx.Twilio.WaitForAsync(phone, TimeSpan.FromSeconds(30));
        Assert.Contains("/guides/rhinoplasty-guide.pdf", sms.Body);
        var state = await fx.WaitForStateAsync(clinic, s => s.GetProperty("recoveredTotal").GetInt64() >= 1, "one call recovered");
        Assert.Equal(1, state.GetProperty("recoveredTotal").GetInt64());
        Assert.True(state.GetProperty("enabled").GetBoolean());
        Assert.Equal(JsonValueKind.Null, state.GetProperty("lastError").ValueKind);
        Assert.Contains(fx.Vapi.Queries, q => q.Contains("createdAtGt=", StringComparison.Ordinal) && q.Contains($"limit={ReconciliationFixture.PageLimit}", StringComparison.Ordinal));

        // The report arrives after all (late, then twice): it gets the stored answer and sends nothing.
        using (var webhook = fx.App.CreateClient())
        {
            webhook.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);
            foreach (var _ in new[] { 1, 2 })
                Assert.Equal(HttpStatusCode.OK, (await webhook.PostAsJsonAsync("/vapi/webhook", Report(missed, phone, Rhinoplasty, 1768385046123L))).StatusCode);
        }
        // Two more runs see every call settled.
        var lastRun = state.GetProperty("lastRunAt").GetDateTimeOffset();
        await fx.WaitForStateAsync(clinic, s => s.GetProperty("lastRunAt").GetDateTimeOffset() > lastRun.AddSeconds(1.5), "two more runs");
        Assert.Single(fx.Twilio.For(phone));
        Assert.Single(fx.Twilio.For(deliveredPhone));
        Assert.Empty(fx.Twilio.For(live));
        Assert.Empty(fx.Twilio.For(justEnded));
        Assert.Empty(fx.Twilio.For(history));
        Assert.Equal(2L, await fx.ScalarAsync<long>("select count(*) from leads where clinic_id = $1", clinic));
        Assert.Equal(1L, (await fx.StateAsync(clinic)).GetProperty("recoveredTotal").GetInt64());
        Assert.Equal("customer-ended-call|ended", await fx.ScalarAsync<string>(
            "select ended_reason || '|' || status from calls where clinic_id = $1 and call_id = $2", clinic, missed));

        var health = await fx.HealthAsync();
        Assert.StartsWith("on: ", health[VapiReconciliation.HealthName]);
        Assert.StartsWith("ok: last run ", health[$"{VapiReconciliation.HealthName}:{clinic}"]);
        Assert.Contains("(total 1)", health[$"{VapiReconciliation.HealthName}:{clinic}"]);
    }

    [Fact]
    public async Task Reconciliation_pages_through_every_recent_call_of_the_clinics_number_only()
    {
        var key = NewKey();
        fx.Vapi.AddKey(key);
        var number = "pn_" + Guid.NewGuid().ToString("N");
        var (clinic, _) = await fx.ClinicAsync(key, phoneNumberId: number);
        await fx.BackdateKeyAsync(clinic, TimeSpan.FromHours(1));
        var now = DateTimeOffset.UtcNow;
        var phones = Enumerable.Range(0, 7).Select(_ => TwilioFixture.NewPhone()).ToList();
        for (var i = 0; i < phones.Count; i++)
            fx.Vapi.AddCall(key, FakeVapi.EndedCall(NewCall(), phones[i], Rhinoplasty, now.AddMinutes(-30 + i), now.AddMinutes(-25 + i), phoneNumberId: number));
        // The same Vapi org also answers for another clinic's number: not this clinic's calls.
        var otherNumber = TwilioFixture.NewPhone();
        fx.Vapi.AddCall(key, FakeVapi.EndedCall(NewCall(), otherNumber, Rhinoplasty, now.AddMinutes(-10), now.AddMinutes(-9), phoneNumberId: "pn_other"));

        foreach (var p in phones) await fx.Twilio.WaitForAsync(p, TimeSpan.FromSeconds(30));
        var state = await fx.WaitForStateAsync(clinic, s => s.GetProperty("recoveredTotal").GetInt64() >= phones.Count, "all seven recovered");
        Assert.Equal(phones.Count, state.GetProperty("recoveredTotal").GetInt64());
        Assert.Empty(fx.Twilio.For(otherNumber));
        Assert.Contains(fx.Vapi.Queries, q => q.Contains("createdAtLe=", StringComparison.Ordinal) && q.Contains($"phoneNumberId={number}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_stored_API_key_no_configured_master_key_opens_is_reported_with_what_to_do_and_retried_later()
    {
        var key = NewKey();
        fx.Vapi.AddKey(key);
        var (clinic, _) = await fx.ClinicAsync(key);
        // One bit of the sealed key changes (a restore from another environment, a master key rotated away):
        // it no longer authenticates under any key this instance has.
        await fx.ScalarAsync<int>("""
            update vapi_reconciliation set api_key = set_byte(api_key, length(api_key) - 1, get_byte(api_key, length(api_key) - 1) # 1), next_run_at = now()
            where clinic_id = $1 returning 1
            """, clinic);
        var failing = await fx.WaitForStateAsync(clinic, s => s.GetProperty("failures").GetInt32() >= 1, "a key that cannot be opened");
        Assert.Equal("The stored API key cannot be opened with the configured master keys; set vapiApiKey again.", failing.GetProperty("lastError").GetString());
        Assert.True(failing.GetProperty("nextRunAt").GetDateTimeOffset() > failing.GetProperty("lastRunAt").GetDateTimeOffset(), "retried later");
        var detail = (await fx.HealthAsync())[$"{VapiReconciliation.HealthName}:{clinic}"];
        Assert.StartsWith("failing (", detail);
        Assert.Contains("set vapiApiKey again", detail);
    }

    [Fact]
    public async Task Vapi_down_or_refusing_the_key_is_retried_later_and_visible_in_health()
    {
        var key = NewKey();
        fx.Vapi.AddKey(key);
        var now = DateTimeOffset.UtcNow;
        var phone = TwilioFixture.NewPhone();
        fx.Vapi.AddCall(key, FakeVapi.EndedCall(NewCall(), phone, Rhinoplasty, now.AddMinutes(-10), now.AddMinutes(-7)));

        await fx.Vapi.DownAsync();
        Guid clinic;
        try
        {
            (clinic, _) = await fx.ClinicAsync(key);
            await fx.BackdateKeyAsync(clinic, TimeSpan.FromHours(1));
            var failing = await fx.WaitForStateAsync(clinic, s => s.GetProperty("failures").GetInt32() >= 2, "two failed runs");
            Assert.StartsWith("Vapi could not be reached", failing.GetProperty("lastError").GetString());
            Assert.True(failing.GetProperty("nextRunAt").GetDateTimeOffset() > failing.GetProperty("lastRunAt").GetDateTimeOffset(), "retried later");
            var detail = (await fx.HealthAsync())[$"{VapiReconciliation.HealthName}:{clinic}"];
            Assert.StartsWith("failing (", detail);
            Assert.Contains("Vapi could not be reached", detail);
            Assert.Contains("last success never", detail);
            Assert.Empty(fx.Twilio.For(phone));
        }
        finally
        {
            fx.Vapi.Script(key, 503);   // and its first answer when it is back is a 503
            await fx.Vapi.UpAsync();
        }

        // Vapi is back: the call is recovered, the failures forgotten.
        await fx.Twilio.WaitForAsync(phone, TimeSpan.FromSeconds(30));
        var ok = await fx.WaitForStateAsync(clinic, s => s.GetProperty("failures").GetInt32() == 0 && s.GetProperty("recoveredTotal").GetInt64() == 1, "recovered after the outage");
        Assert.Equal(JsonValueKind.Null, ok.GetProperty("lastError").ValueKind);
        Assert.Single(fx.Twilio.For(phone));
        Assert.StartsWith("ok: ", (await fx.HealthAsync())[$"{VapiReconciliation.HealthName}:{clinic}"]);

        // A key Vapi does not know: visible, with what to do.
        var (refused, _) = await fx.ClinicAsync(NewKey());
        var refusedState = await fx.WaitForStateAsync(refused, s => s.GetProperty("failures").GetInt32() >= 1, "a refused key");
        Assert.StartsWith("Vapi refused the API key (401)", refusedState.GetProperty("lastError").GetString());
        var refusedHealth = (await fx.HealthAsync())[$"{VapiReconciliation.HealthName}:{refused}"];
        Assert.StartsWith("failing (", refusedHealth);
        Assert.Contains("Vapi refused the API key (401)", refusedHealth);
        Assert.Contains("failing", (await fx.HealthAsync())[VapiReconciliation.HealthName]);
    }

    [Fact]
    public async Task The_Vapi_API_key_is_write_only_sealed_and_only_an_admin_of_the_clinic_sets_or_removes_it()
    {
        var key = NewKey();
        fx.Vapi.AddKey(key);
        var (clinic, _) = await fx.ClinicAsync(key);

        using var admin = fx.As(clinic);
        var view = await admin.GetStringAsync($"/api/clinics/{clinic}");
        Assert.DoesNotContain(key, view);
        var sealedKey = await fx.ScalarAsync<byte[]>("select api_key from vapi_reconciliation where clinic_id = $1", clinic);
        Assert.DoesNotContain(key, System.Text.Encoding.UTF8.GetString(sealedKey!));
        Assert.Equal(0L, await fx.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and detail::text like '%' || $2 || '%'", clinic, key));

        // Not even the clinic's own session reads the sealed key back.
        var db = fx.App.Services.GetRequiredService<Db>();
        var denied = await Assert.ThrowsAsync<PostgresException>(() => db.QueryOnceAsync<byte[]>(
            RequestClaims.ForClinic(clinic, "someone", "admin"), "select api_key from vapi_reconciliation", null, CancellationToken.None));
        Assert.Equal("42501", denied.SqlState);

        using var receptionist = fx.As(clinic, "receptionist");
        var forbidden = await receptionist.PatchAsJsonAsync($"/api/clinics/{clinic}", new { vapiApiKey = NewKey() });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using var stranger = fx.As((await fx.ClinicAsync(null)).Id);
        var foreign = await stranger.PatchAsJsonAsync($"/api/clinics/{clinic}", new { vapiApiKey = (string?)null });
        Assert.Equal(HttpStatusCode.Forbidden, foreign.StatusCode);
        Assert.Equal(Problems.CrossTenant, (await TwilioFixture.JsonAsync(foreign)).GetProperty("type").GetString());

        foreach (var bad in new object[] { new { vapiApiKey = "short" }, new { vapiApiKey = 42 }, new { vapiApiKey = "has spaces in it" }, new { name = "Renamed" } })
        {
            var r = await admin.PatchAsJsonAsync($"/api/clinics/{clinic}", bad);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Equal(Problems.Validation, (await TwilioFixture.JsonAsync(r)).GetProperty("type").GetString());
        }
        using (var svc = fx.Service())
        {
            var badCreate = await svc.PostAsJsonAsync("/api/clinics", new { name = "Bad key", vapiApiKey = "x" });
            Assert.Equal(HttpStatusCode.BadRequest, badCreate.StatusCode);
        }
        Assert.Equal(sealedKey, await fx.ScalarAsync<byte[]>("select api_key from vapi_reconciliation where clinic_id = $1", clinic));

        var removed = await admin.PatchAsJsonAsync($"/api/clinics/{clinic}", new { vapiApiKey = (string?)null });
        Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        Assert.Equal(clinic, (await TwilioFixture.JsonAsync(removed)).GetProperty("id").GetGuid());
        Assert.False((await fx.StateAsync(clinic)).GetProperty("enabled").GetBoolean());
        Assert.Equal(2L, await fx.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action in ('vapi_api_key_set', 'vapi_api_key_removed')", clinic));
        var missing = await admin.PatchAsJsonAsync($"/api/clinics/{Guid.NewGuid()}", new { vapiApiKey = (string?)null });
        Assert.Equal(HttpStatusCode.Forbidden, missing.StatusCode);
    }

    [Fact]
    public void A_recovered_report_is_shaped_like_the_webhook_message_from_the_Call_object()
    {
        var call = FakeVapi.EndedCall("call-1", "+447900000001", "User: rhinoplasty please", DateTimeOffset.UtcNow.AddMinutes(-5),
            DateTimeOffset.UtcNow.AddMinutes(-1), assistantId: "asst_1", structuredData: new JsonObject { ["procedure"] = "Facelift" });
        var report = VapiReconciliation.ReportFrom(JsonSerializer.SerializeToElement(call));
        Assert.Equal("end-of-call-report", report.Str("type"));
        Assert.Equal("call-1", VapiMessage.CallId(report));
        Assert.Equal("+447900000001", VapiMessage.CustomerNumber(report));
        Assert.Equal("asst_1", report.Str("call", "assistantId"));
        Assert.Equal("Facelift", report.Str("analysis", "structuredData", "procedure"));
        Assert.Equal("User: rhinoplasty please", report.Str("artifact", "transcript"));
        Assert.Equal("customer-ended-call", report.Str("endedReason"));

        // An older Call shape with the transcript at the top level still yields an artifact.
        var legacy = JsonSerializer.SerializeToElement(new { id = "call-2", status = "ended", transcript = "User: facelift", customer = new { number = "+447900000002" } });
        Assert.Equal("User: facelift", VapiReconciliation.ReportFrom(legacy).Str("artifact", "transcript"));
    }
}
