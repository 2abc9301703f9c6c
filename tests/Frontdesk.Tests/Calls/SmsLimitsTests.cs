using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Messaging;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;

namespace Frontdesk.Tests.Calls;

/// <summary>
/// SMS abuse (issue 14): a clinic member, or anyone with the clinic's Vapi secret, could text any
/// number in the world. Destinations are limited to the clinic's allowed countries and each clinic
/// has a daily quota, enforced where messages are enqueued.
/// </summary>
[Collection("twilio")]
public class SmsLimitsTests(TwilioFixture fx)
{
    const string French = "+33612345678";

    static object CallEnded(string phone, string? callId = null, string name = "Jane Doe") => new
    {
        eventType = "call_ended", callId = callId ?? "call_" + Guid.NewGuid().ToString("N"), voxanAgentId = "voxan_001",
        patientPhone = phone, patientName = name, leadId = "lead_xyz_789", keyword = "Rhinoplasty",
        bookingConfirmed = false, callDuration = 245, transcript = "interested in rhinoplasty... hung up",
    };

    static object Report(string callId, string phone) => new
    {
        message = new
        {
            type = "end-of-call-report",
            endedReason = "customer-ended-call",
            analysis = new { },
            artifact = new { transcript = "User: I'm interested in rhinoplasty. Oh I have to go, bye." },
            call = new { id = callId, type = "inboundPhoneCall" },
            customer = new { number = phone },
        },
    };

    static async Task<JsonElement> ProblemAsync(HttpResponseMessage r, HttpStatusCode status, string type)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == status, $"{(int)r.StatusCode} {text}");
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(type, problem.GetProperty("type").GetString());
        return problem;
    }

    static Task<long> CountAsync(string table, Guid clinic) =>
        TestApp.ScalarAsync<long>($"select count(*) from {table} where clinic_id = $1", clinic);

    [Fact]
    public async Task A_clinics_default_countries_are_those_of_its_timezone_and_sender_and_its_default_quota_is_500()
    {
        using var svc = TestApp.Service();
        async Task<JsonElement> SettingsOf(object clinic)
        {
            var id = (await TestClinic.Json(await svc.PostAsJsonAsync("/api/clinics", clinic))).GetProperty("id").GetGuid();
            return await TestClinic.Json(await TestApp.As(id).GetAsync($"/api/clinics/{id}/sms"));
        }
        static string[] Countries(JsonElement s) => s.GetProperty("allowedCountries").EnumerateArray().Select(c => c.GetString()!).ToArray();

        var london = await SettingsOf(new { name = "London", timezone = "Europe/London" });
        Assert.Equal(["GB"], Countries(london));
        Assert.True(london.GetProperty("defaultCountries").GetBoolean());
        Assert.Equal(500, london.GetProperty("dailyQuota").GetInt32());
        Assert.Equal(0, london.GetProperty("sentToday").GetInt32());
        Assert.True(london.GetProperty("quotaResetsAt").GetDateTimeOffset() > DateTimeOffset.UtcNow);
        // The seed's London clinic sending from a US number may text the US as well.
        Assert.Equal(["GB", "US"], Countries(await SettingsOf(new { name = "London US sender", timezone = "Europe/London", smsFrom = "+14155550100" })));
        Assert.Equal(["FR"], Countries(await SettingsOf(new { name = "Paris", timezone = "Europe/Paris" })));
        Assert.Equal(["CA"], Countries(await SettingsOf(new { name = "Toronto", timezone = "America/Toronto" })));
    }

    [Fact]
    public async Task trigger_followup_sms_to_a_country_the_clinic_does_not_allow_is_422_and_stores_and_sends_nothing()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        using var client = fx.As(clinic.Id);
        var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(French));
        var problem = await ProblemAsync(r, HttpStatusCode.UnprocessableEntity, Problems.SmsCountryNotAllowed);
        Assert.Contains("FR", problem.GetProperty("detail").GetString());

        Assert.Equal(0L, await CountAsync("leads", clinic.Id));
        Assert.Equal(0L, await CountAsync("sms_messages", clinic.Id));
        Assert.Equal(0L, await CountAsync("outbox", clinic.Id));
        Assert.Equal(0L, await CountAsync("sms_daily_usage", clinic.Id));
        Assert.Equal("country_not_allowed", await TestApp.ScalarAsync<string>(
            "select detail->>'reason' from audit_trail where clinic_id = $1 and action = 'sms_refused'", clinic.Id));
        await Task.Delay(300);
        Assert.Empty(fx.Fake.For(French));

        // Once an admin allows France, the same follow-up goes out, and Britain is no longer allowed.
        using (var put = await client.PutAsJsonAsync($"/api/clinics/{clinic.Id}/sms", new { allowedCountries = (string[])["fr"], dailyQuota = 500 }))
        {
            var settings = await TestClinic.Json(put);
            Assert.Equal(["FR"], settings.GetProperty("allowedCountries").EnumerateArray().Select(c => c.GetString()));
            Assert.False(settings.GetProperty("defaultCountries").GetBoolean());
        }
        using (var ok = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(French)))
            Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        await fx.Fake.WaitForAsync(French, TimeSpan.FromSeconds(60));
        using var uk = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(TwilioFixture.NewPhone()));
        await ProblemAsync(uk, HttpStatusCode.UnprocessableEntity, Problems.SmsCountryNotAllowed);
    }

    [Fact]
    public async Task A_Vapi_report_for_a_number_in_another_country_leaves_a_failed_message_a_person_can_see_and_sends_nothing()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        var call = "call-" + Guid.NewGuid();
        for (var i = 0; i < 2; i++)   // a retried report changes nothing
            using (var r = await fx.VapiAsync(secret, Report(call, French)))
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);

        Assert.Equal("failed", await TestApp.ScalarAsync<string>("select status from sms_messages where clinic_id = $1", clinic.Id));
        Assert.StartsWith("refused: Messages to FR are not allowed", await TestApp.ScalarAsync<string>(
            "select error_message from sms_messages where clinic_id = $1", clinic.Id));
        Assert.Equal("failed", await TestApp.ScalarAsync<string>("select status from lead_followups where clinic_id = $1", clinic.Id));
        Assert.Equal(1L, await CountAsync("leads", clinic.Id));
        Assert.Equal(0L, await CountAsync("outbox", clinic.Id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'sms_refused'", clinic.Id));
        await Task.Delay(300);
        Assert.Empty(fx.Fake.For(French));
    }

    [Fact]
    public async Task Past_the_daily_quota_trigger_followup_sms_answers_429_with_Retry_After_and_a_report_leaves_a_failed_message()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync();
        using var admin = fx.As(clinic.Id);
        await TestClinic.Json(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/sms", new { dailyQuota = 2 }));
        for (var i = 0; i < 2; i++)
            using (var r = await admin.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(TwilioFixture.NewPhone())))
                Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);

        var phone = TwilioFixture.NewPhone();
        using var third = await admin.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(phone));
        var problem = await ProblemAsync(third, HttpStatusCode.TooManyRequests, Problems.SmsQuotaExceeded);
        Assert.Contains("quota of 2", problem.GetProperty("detail").GetString());
        var retryAfter = int.Parse(third.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 25 * 3600);
        Assert.Equal(2L, await CountAsync("leads", clinic.Id));

        var settings = await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/sms"));
        Assert.Equal(2, settings.GetProperty("sentToday").GetInt32());
        Assert.Equal(["GB", "US"], settings.GetProperty("allowedCountries").EnumerateArray().Select(c => c.GetString()));

        // The webhook path keeps the refused message, failed, with the reason.
        using (var r = await fx.VapiAsync(secret, Report("call-" + Guid.NewGuid(), phone)))
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.StartsWith("refused: The clinic's daily quota of 2 SMS is used up", await TestApp.ScalarAsync<string>(
            "select error_message from sms_messages where clinic_id = $1 and status = 'failed'", clinic.Id));
        await Task.Delay(300);
        Assert.Empty(fx.Fake.For(phone));
    }

    [Fact]
    public async Task Concurrent_follow_ups_never_exceed_the_quota()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        using var admin = fx.As(clinic.Id);
        await TestClinic.Json(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/sms", new { dailyQuota = 5 }));
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var c = fx.As(clinic.Id, "receptionist");
            using var r = await c.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(TwilioFixture.NewPhone()));
            return r.StatusCode;
        }));
        Assert.Equal(5, results.Count(s => s == HttpStatusCode.Accepted));
        Assert.Equal(15, results.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.Equal(5L, await CountAsync("sms_messages", clinic.Id));
        Assert.Equal(5, await TestApp.ScalarAsync<int>("select sum(sent)::int from sms_daily_usage where clinic_id = $1", clinic.Id));
    }

    /// <summary>Issue 16: the quota is not one lock per clinic. A message whose transaction is still in
    /// flight holds its unit; another message of the same clinic takes another unit meanwhile instead of
    /// waiting for that commit. The rolled-back one gives its unit back.</summary>
    [Fact]
    public async Task Messages_of_one_clinic_take_quota_units_without_waiting_for_each_others_commit()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var guard = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<SmsGuard>(TestApp.Factory.Services);
        var claims = RequestClaims.ForClinic(clinic.Id, "quota-probe", "admin");
        await TestApp.Db.InTransactionAsync(claims, async s =>   // the day's first message, committed
            Assert.IsType<SmsVerdict.Allowed>(await guard.CheckAsync(s, clinic.Id, TwilioFixture.NewPhone(), default)), default);

        await using (var held = await TestApp.Db.BeginAsync(claims, default))
        {
            Assert.IsType<SmsVerdict.Allowed>(await guard.CheckAsync(held, clinic.Id, TwilioFixture.NewPhone(), default));
            for (var i = 0; i < 3; i++)
            {
                var other = TestApp.Db.InTransactionAsync(claims, s => guard.CheckAsync(s, clinic.Id, TwilioFixture.NewPhone(), default), default);
                Assert.Same(other, await Task.WhenAny(other, Task.Delay(TimeSpan.FromSeconds(30))));
                Assert.IsType<SmsVerdict.Allowed>(await other);
            }
        }   // rolled back
        Assert.Equal(4, await TestApp.ScalarAsync<int>("select sum(sent)::int from sms_daily_usage where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task Lowering_and_raising_the_quota_the_same_day_keeps_count_of_what_was_sent()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var guard = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<SmsGuard>(TestApp.Factory.Services);
        var claims = RequestClaims.ForClinic(clinic.Id, "quota-probe", "admin");
        Task<SmsVerdict> Take() => TestApp.Db.InTransactionAsync(claims, s => guard.CheckAsync(s, clinic.Id, TwilioFixture.NewPhone(), default), default);
        using var admin = fx.As(clinic.Id);
        for (var i = 0; i < 3; i++) Assert.IsType<SmsVerdict.Allowed>(await Take());

        await TestClinic.Json(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/sms", new { dailyQuota = 2 }));
        Assert.IsType<SmsVerdict.Refused>(await Take());
        await TestClinic.Json(await admin.PutAsJsonAsync($"/api/clinics/{clinic.Id}/sms", new { dailyQuota = 5 }));
        Assert.IsType<SmsVerdict.Allowed>(await Take());
        Assert.IsType<SmsVerdict.Allowed>(await Take());
        Assert.IsType<SmsVerdict.Refused>(await Take());
        Assert.Equal(5, await TestApp.ScalarAsync<int>("select sum(sent)::int from sms_daily_usage where clinic_id = $1", clinic.Id));
    }

    [Theory]
    [InlineData("doctor")]
    [InlineData(null)]
    public async Task trigger_followup_sms_is_for_admins_receptionists_and_service_role_only(string? appRole)
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        using var client = fx.Client(TestApp.Token(RequestClaims.ForClinic(clinic.Id, "someone", appRole)));
        using var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(TwilioFixture.NewPhone()));
        await ProblemAsync(r, HttpStatusCode.Forbidden, Problems.Forbidden);
        Assert.Equal(0L, await CountAsync("leads", clinic.Id));
        using var receptionist = fx.As(clinic.Id, "receptionist");
        using (var ok = await receptionist.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(TwilioFixture.NewPhone())))
            Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
    }

    [Fact]
    public async Task The_name_in_a_follow_up_is_a_name_not_a_message_of_the_callers_choosing()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        using var client = fx.As(clinic.Id);
        var phone = TwilioFixture.NewPhone();
        using (var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms",
                   CallEnded(phone, name: "Jane. Your account is locked, log in at https://evil.example/x")))
            Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        var sms = await fx.Fake.WaitForAsync(phone, TimeSpan.FromSeconds(60));
        Assert.StartsWith("Hi there,", sms.Body);
        Assert.DoesNotContain("evil.example", sms.Body);

        var other = TwilioFixture.NewPhone();
        using (var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", CallEnded(other, name: "Zoë O'Brien-Núñez")))
            Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        Assert.StartsWith("Hi Zoë O'Brien-Núñez,", (await fx.Fake.WaitForAsync(other, TimeSpan.FromSeconds(60))).Body);
    }

    [Fact]
    public async Task SMS_settings_are_for_admins_and_refuse_bad_input_storing_nothing()
    {
        var (clinic, _) = await TwilioFixture.ClinicAsync();
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        using var admin = fx.As(clinic.Id);
        var url = $"/api/clinics/{clinic.Id}/sms";
        object[] bad =
        [
            new { allowedCountries = new[] { "XX" } },
            new { allowedCountries = new[] { "GBR" } },
            new { allowedCountries = new[] { "" } },
            new { allowedCountries = Enumerable.Repeat("GB", 251).ToArray() },
            new { dailyQuota = -1 },
            new { dailyQuota = SmsSettingsEndpoints.MaxDailyQuota + 1 },
        ];
        foreach (var body in bad)
            await ProblemAsync(await admin.PutAsJsonAsync(url, body), HttpStatusCode.BadRequest, Problems.Validation);
        await ProblemAsync(await fx.As(clinic.Id, "receptionist").PutAsJsonAsync(url, new { dailyQuota = 9 }), HttpStatusCode.Forbidden, Problems.Forbidden);
        await ProblemAsync(await fx.As(clinic.Id, "receptionist").GetAsync(url), HttpStatusCode.Forbidden, Problems.Forbidden);
        await ProblemAsync(await fx.As(other.Id).PutAsJsonAsync(url, new { dailyQuota = 9 }), HttpStatusCode.Forbidden, Problems.CrossTenant);
        Assert.Equal("|500", await TestApp.ScalarAsync<string>(
            "select coalesce(array_to_string(sms_allowed_countries, ','), '') || '|' || sms_daily_quota from clinics where id = $1", clinic.Id));

        // An empty list allows no country at all; leaving both out goes back to the defaults.
        var none = await TestClinic.Json(await admin.PutAsJsonAsync(url, new { allowedCountries = Array.Empty<string>(), dailyQuota = 0 }));
        Assert.Empty(none.GetProperty("allowedCountries").EnumerateArray());
        Assert.Equal(0, none.GetProperty("dailyQuota").GetInt32());
        var reset = await TestClinic.Json(await admin.PutAsJsonAsync(url, new { }));
        Assert.True(reset.GetProperty("defaultCountries").GetBoolean());
        Assert.Equal(500, reset.GetProperty("dailyQuota").GetInt32());
        Assert.Equal(2L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'updated' and entity = 'sms_settings'", clinic.Id));
    }

    [Fact]
    public void Retry_After_runs_to_the_clinics_next_local_midnight()
    {
        var london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        Assert.Equal(TimeSpan.FromHours(1), SmsGuard.UntilLocalMidnight(new DateTimeOffset(2026, 1, 14, 23, 0, 0, TimeSpan.Zero), london));
        // Summer time: London midnight is 23:00 UTC.
        Assert.Equal(TimeSpan.FromHours(2), SmsGuard.UntilLocalMidnight(new DateTimeOffset(2026, 7, 14, 21, 0, 0, TimeSpan.Zero), london));
        Assert.Null(SmsGuard.CountryOf("+80012345678"));
        Assert.Equal("US", SmsGuard.CountryOf("+12025550187"));
    }
}
