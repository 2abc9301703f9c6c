using System.Net.Http.Json;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using Frontdesk.Bench;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Frontdesk.Tests.Manage;

/// <summary>Patients, bookings and page clients for the manage-page and waitlist tests.</summary>
public static class PatientScenario
{
    /// <summary>A patient of <paramref name="clinic"/> with a fresh UK mobile number (the clinic texts the UK).</summary>
    public static async Task<(Guid Id, string Phone)> PatientAsync(TestClinic clinic, string name = "Jane Doe")
    {
        var phone = TwilioFixture.NewPhone();
        using var svc = TestApp.Service();
        var p = await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic.Id}/patients", new { name, phone }));
        return (p.GetProperty("id").GetGuid(), phone);
    }

    public static async Task<Guid> BookAsync(TestClinic clinic, Guid patientId, Guid slotId)
    {
        using var svc = TestApp.Service();
        var r = await svc.PostAsJsonAsync("/functions/v1/claim_slot_atomic", new { slotId, patientId, clinicId = clinic.Id });
        return (await TestClinic.Json(r)).GetProperty("bookingId").GetGuid();
    }

    /// <summary>A browser-like client of <paramref name="app"/>: keeps cookies, does not follow redirects, and
    /// calls from an address of its own (<see cref="TestClientAddress"/>), like a patient's phone.</summary>
    public static HttpClient Browser(WebApplicationFactory<Program> app)
    {
        var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        client.DefaultRequestHeaders.Add(TestClientAddress.Header, TestClientAddress.NewAddress());
        return client;
    }

    public static async Task<IDocument> HtmlAsync(HttpResponseMessage r)
    {
        Assert.Equal("text/html", r.Content.Headers.ContentType?.MediaType);
        return await new HtmlParser().ParseDocumentAsync(await r.Content.ReadAsStringAsync());
    }

    public static string Csrf(IDocument doc) => doc.QuerySelector("input[name=csrf]")!.GetAttribute("value")!;

    public static List<Guid> SlotValues(IDocument doc) =>
        doc.QuerySelectorAll("input[type=radio][name=slot]").Select(e => Guid.Parse(e.GetAttribute("value")!)).ToList();

    public static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));

    /// <summary>The <paramref name="nth"/> message (1-based) the fake Twilio accepted for <paramref name="phone"/>.</summary>
    public static async Task<FakeSms> SmsAsync(FakeTwilio fake, string phone, int nth, int seconds = 60)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < until)
        {
            var all = fake.For(phone);
            if (all.Count >= nth) return all[nth - 1];
            await Task.Delay(25);
        }
        throw new Xunit.Sdk.XunitException($"fewer than {nth} SMS to {phone} within {seconds} s: {fake.For(phone).Count}");
    }

    /// <summary>Polls until <paramref name="probe"/> gives a value (workers run on their own schedule).</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string what, int seconds = 60) where T : class
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < until)
        {
            if (await probe() is { } value) return value;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"{what} did not happen within {seconds} s");
    }

    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 60) =>
        await EventuallyAsync<string>(async () => await condition() ? "" : null, what, seconds);
}
