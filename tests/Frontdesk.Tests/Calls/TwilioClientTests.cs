using Frontdesk.Bench;
using Frontdesk.FollowUp;
using Frontdesk.Messaging;

namespace Frontdesk.Tests.Calls;

/// <summary>Our Twilio client against the loopback fake: how each answer is classified, and the
/// Messages-list lookup that decides whether an ambiguous attempt may be sent again.</summary>
public sealed class TwilioClientTests : IAsyncLifetime, IDisposable
{
    FakeTwilio _fake = null!;
    HttpClient _http = null!;
    TwilioClient _client = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeTwilio.StartAsync();
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        _client = new TwilioClient(_http, new TwilioOptions
        {
            AccountSid = FakeTwilio.AccountSid, AuthToken = FakeTwilio.AuthToken, From = FakeTwilio.From, ApiBaseUrl = _fake.Url,
        });
    }

    public async Task DisposeAsync() => await _fake.DisposeAsync();

    public void Dispose() => _http?.Dispose();

    static string Phone() => TwilioFixture.NewPhone();

    [Fact]
    public async Task Answers_are_classified_by_whether_Twilio_may_have_the_message()
    {
        var to = Phone();
        _fake.RetryAfterSeconds = 7;
        _fake.Fault(to, TwilioFault.TooManyRequests, TwilioFault.AcceptThen500, TwilioFault.Unavailable, TwilioFault.AcceptThenHang);
        _fake.HangFor = TimeSpan.FromSeconds(5);
        var throttled = Assert.IsType<TwilioSendResult.Transient>(await _client.SendAsync(to, FakeTwilio.From, "a", null, default));
        Assert.Equal((20429, TimeSpan.FromSeconds(7)), (throttled.Code, throttled.RetryAfter));
        Assert.Equal(20500, Assert.IsType<TwilioSendResult.Ambiguous>(await _client.SendAsync(to, FakeTwilio.From, "b", null, default)).Code);
        Assert.Equal(20503, Assert.IsType<TwilioSendResult.Ambiguous>(await _client.SendAsync(to, FakeTwilio.From, "c", null, default)).Code);
        Assert.Contains("timed out", Assert.IsType<TwilioSendResult.Ambiguous>(await _client.SendAsync(to, FakeTwilio.From, "d", null, default)).Message);
        _fake.Script(to, (400, 21211));
        Assert.Equal(21211, Assert.IsType<TwilioSendResult.Permanent>(await _client.SendAsync(to, FakeTwilio.From, "e", null, default)).Code);
        var ok = Assert.IsType<TwilioSendResult.Accepted>(await _client.SendAsync(to, "MG0123", "f", "https://x.test/cb?m=1", default));
        Assert.Equal("queued", ok.Status);
        Assert.Equal("MG0123", _fake.For(to).Single(m => m.Sid == ok.Sid).MessagingServiceSid);

        await _fake.DownAsync();
        Assert.StartsWith("connection failed", Assert.IsType<TwilioSendResult.Transient>(await _client.SendAsync(to, FakeTwilio.From, "g", null, default)).Message);
        Assert.IsType<TwilioLookup.Failed>(await _client.FindAsync(to, FakeTwilio.From, "g", DateTimeOffset.UtcNow, default));
    }

    [Fact]
    public async Task The_lookup_finds_our_message_by_number_and_body_across_pages()
    {
        var to = Phone();
        var since = DateTimeOffset.UtcNow.AddSeconds(-5);
        var target = _fake.Seed(to, "our text", DateTimeOffset.UtcNow.AddSeconds(-2));
        for (var i = 0; i < 120; i++) _fake.Seed(to, "other " + i, DateTimeOffset.UtcNow);   // newer: pages 1–3 come first
        _fake.Seed(Phone(), "our text", DateTimeOffset.UtcNow);                            // same body, another number

        var lookup = await _client.FindAsync(to, FakeTwilio.From, "our text", since, default);
        var found = (lookup as TwilioLookup.Found) ?? throw new Xunit.Sdk.XunitException(lookup.ToString());
        Assert.Equal(target.Sid, found.Sid);
        Assert.True(_fake.Lists >= 3, "did not follow next_page_uri");

        // Not enough pages read to be sure: not "not found".
        Assert.IsType<TwilioLookup.Failed>(await _client.FindAsync(to, FakeTwilio.From, "missing", since, default, maxPages: 1));
        Assert.IsType<TwilioLookup.NotFound>(await _client.FindAsync(to, FakeTwilio.From, "missing", since, default));
        // Created before the attempt began: an older message with the same text is not ours.
        Assert.IsType<TwilioLookup.NotFound>(await _client.FindAsync(to, FakeTwilio.From, "our text", DateTimeOffset.UtcNow.AddMinutes(5), default));
        // From another sender number: filtered out; a messaging service is not a From filter.
        Assert.IsType<TwilioLookup.NotFound>(await _client.FindAsync(to, "+15005550001", "our text", since, default));
        Assert.IsType<TwilioLookup.Found>(await _client.FindAsync(to, "MG0123", "our text", since, default));
    }

    [Fact]
    public async Task The_fake_Messages_list_filters_by_DateSent_and_refuses_bad_dates()
    {
        var to = Phone();
        _fake.Seed(to, "yesterday", DateTimeOffset.UtcNow.AddDays(-1));
        _fake.Seed(to, "today", DateTimeOffset.UtcNow);
        using var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{FakeTwilio.AccountSid}:{FakeTwilio.AuthToken}")));
        var url = $"{_fake.Url}/2010-04-01/Accounts/{FakeTwilio.AccountSid}/Messages.json?To={Uri.EscapeDataString(to)}";
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        async Task<string[]> Bodies(string q) =>
            System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(url + q)).RootElement.GetProperty("messages")
                .EnumerateArray().Select(m => m.GetProperty("body").GetString()!).ToArray();
        Assert.Equal(["today"], await Bodies("&DateSent=" + today));
        Assert.Equal(["today"], await Bodies("&DateSent%3E=" + today));
        Assert.Equal(["yesterday"], await Bodies("&DateSent%3C=" + DateTime.UtcNow.AddDays(-1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(["today", "yesterday"], await Bodies(""));
        var bad = await http.GetAsync(url + "&DateSent=yesterday");
        Assert.Equal(400, (int)bad.StatusCode);
        using var anonymous = new HttpClient();
        Assert.Equal(401, (int)(await anonymous.GetAsync(url)).StatusCode);
    }
}

public class SendRuleTests
{
    static readonly TimeZoneInfo London = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
    static readonly DateTimeOffset TwoAm = new(2026, 11, 30, 2, 0, 0, TimeSpan.Zero);   // 02:00 in London (GMT)

    [Fact]
    public void A_follow_up_at_2_am_waits_for_the_end_of_quiet_hours() =>
        Assert.Equal(new SendDecision.Wait(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero)),
            SendRule.Decide(TwoAm, SmsPurpose.FollowUp, false, new TimeOnly(21, 0), new TimeOnly(8, 0), London));

    [Fact]
    public void Reminders_keep_quiet_hours_confirmations_do_not_and_opt_outs_always_win()
    {
        Assert.IsType<SendDecision.Wait>(SendRule.Decide(TwoAm, SmsPurpose.Reminder, false, new TimeOnly(21, 0), new TimeOnly(8, 0), London));
        Assert.IsType<SendDecision.Send>(SendRule.Decide(TwoAm, SmsPurpose.Confirmation, false, new TimeOnly(21, 0), new TimeOnly(8, 0), London));
        Assert.IsType<SendDecision.OptedOut>(SendRule.Decide(TwoAm, SmsPurpose.Confirmation, true, null, null, London));
        Assert.IsType<SendDecision.Send>(SendRule.Decide(TwoAm.AddHours(10), SmsPurpose.FollowUp, false, new TimeOnly(21, 0), new TimeOnly(8, 0), London));
        Assert.IsType<SendDecision.Send>(SendRule.Decide(TwoAm, SmsPurpose.FollowUp, false, null, null, London));
    }

    [Fact]
    public void Windows_are_per_purpose_and_backoff_is_capped()
    {
        var o = new SmsOptions { FollowUpWindowHours = 24, ConfirmationWindowHours = 6, ReminderWindowHours = 12, MessageWindowHours = 48 };
        Assert.Equal([24, 6, 12, 48], new[] { SmsPurpose.FollowUp, SmsPurpose.Confirmation, SmsPurpose.Reminder, "other" }.Select(p => o.Window(p).TotalHours));
        var outbox = new Frontdesk.Platform.OutboxOptions { RetryBaseSeconds = 2, RetryMaxSeconds = 600 };
        Assert.InRange(outbox.Backoff(1).TotalSeconds, 1.6, 2.4);
        Assert.InRange(outbox.Backoff(4).TotalSeconds, 12.8, 19.2);
        Assert.InRange(outbox.Backoff(1000).TotalSeconds, 480, 720);
    }
}
