using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Bench;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace Frontdesk.Tests.Calls;

/// <summary>
/// The outbox survives Twilio outages and server restarts. Each test has its own database on the
/// test cluster, so the only workers that can send its messages are the instances it starts.
/// </summary>
public class OutboxDurabilityTests : IAsyncLifetime
{
    string _connectionString = "";
    FakeTwilio _fake = null!;

    public async Task InitializeAsync()
    {
        _connectionString = await TestCluster.NewDatabaseAsync("frontdesk_durability");
        _fake = await FakeTwilio.StartAsync();
    }

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    WebApplicationFactory<Program> NewInstance()
    {
        var f = new FrontdeskFactory().WithWebHostBuilder(b =>
        {
            b.UseSetting("FRONTDESK_DATABASE_URL", _connectionString);
            b.UseSetting("FRONTDESK_APP_DATABASE_URL", new NpgsqlConnectionStringBuilder(TestCluster.AppConnectionString) { Database = new NpgsqlConnectionStringBuilder(_connectionString).Database }.ConnectionString);
            TwilioFixture.Configure(b, _fake);
        });
        f.CreateClient().Dispose();
        return f;
    }

    static async Task<(Guid Clinic, string Phone)> TriggerAsync(WebApplicationFactory<Program> app)
    {
        using var svc = app.CreateClient();
        svc.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestApp.ServiceToken());
        var clinic = (await TestClinic.Json(await svc.PostAsJsonAsync("/api/clinics", new { name = "Durable Clinic", timezone = "Europe/London" })))
            .GetProperty("id").GetGuid();
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            TestApp.Token(RequestClaims.ForClinic(clinic, "durability", "admin")));
        var phone = TwilioFixture.NewPhone();
        var r = await client.PostAsJsonAsync("/functions/v1/trigger_followup_sms", new
        {
            eventType = "call_ended", callId = "call_" + Guid.NewGuid().ToString("N"), patientPhone = phone, patientName = "Jane Doe",
            keyword = "Rhinoplasty", bookingConfirmed = false,
        });
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        return (clinic, phone);
    }

    async Task<T?> ScalarAsync<T>(string sql, params object[] args)
    {
        await using var c = new NpgsqlConnection(_connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        foreach (var a in args) cmd.Parameters.Add(new NpgsqlParameter { Value = a });
        var v = await cmd.ExecuteScalarAsync();
        return v is null or DBNull ? default : (T)v;
    }

    async Task WaitForFailedAttemptAsync(Guid clinic)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (await ScalarAsync<int>("select coalesce(max(attempts), 0) from outbox where clinic_id = $1", clinic) < 1 || await ScalarAsync<string>(
                   "select status from outbox where clinic_id = $1", clinic) != "pending")
        {
            Assert.True(DateTime.UtcNow < until, "no failed attempt recorded");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_message_committed_while_Twilio_is_down_is_delivered_once_it_is_back()
    {
        await _fake.DownAsync();
        await using var app = NewInstance();
        var (clinic, phone) = await TriggerAsync(app);
        await WaitForFailedAttemptAsync(clinic);
        Assert.StartsWith("connection failed", await ScalarAsync<string>("select last_error from outbox where clinic_id = $1", clinic));
        Assert.Equal("queued", await ScalarAsync<string>("select status from sms_messages where clinic_id = $1", clinic));

        await _fake.UpAsync();
        await _fake.WaitForAsync(phone, TimeSpan.FromSeconds(60));
        await Task.Delay(500);
        Assert.Single(_fake.For(phone));
        var until = DateTime.UtcNow.AddSeconds(60);
        while (await ScalarAsync<string>("select status from outbox where clinic_id = $1", clinic) != "done")
        {
            Assert.True(DateTime.UtcNow < until, "the outbox job was not marked done");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_message_left_in_the_outbox_when_the_server_stops_is_sent_after_restart()
    {
        await _fake.DownAsync();
        Guid clinic;
        string phone;
        await using (var first = NewInstance())
        {
            (clinic, phone) = await TriggerAsync(first);
            await WaitForFailedAttemptAsync(clinic);
        }
        await _fake.UpAsync();
        await Task.Delay(1500);
        Assert.Empty(_fake.For(phone));   // nobody is running to send it

        await using var second = NewInstance();
        await _fake.WaitForAsync(phone, TimeSpan.FromSeconds(60));
        Assert.Single(_fake.For(phone));
        var until = DateTime.UtcNow.AddSeconds(60);
        while (await ScalarAsync<string>("select twilio_sid from sms_messages where clinic_id = $1", clinic) != _fake.For(phone)[0].Sid)
        {
            Assert.True(DateTime.UtcNow < until, "the accepted sid was not recorded");
            await Task.Delay(50);
        }
    }
}
