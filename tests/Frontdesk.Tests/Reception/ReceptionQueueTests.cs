using System.Net;
using Frontdesk.StaffConsole;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.StaffConsole;

namespace Frontdesk.Tests.Reception;

/// <summary>The staff console's work queue shows callbacks and knowledge gaps and acts on them through the API's rules.</summary>
public class ReceptionQueueTests
{
    [Fact]
    public async Task The_work_queue_lists_callers_to_ring_back_and_unanswered_questions_and_closes_a_callback()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        var phone = ReceptionFixtures.NewPhone();
        var (text, error) = VapiPayloads.Result(await ReceptionFixtures.VapiJsonAsync(secret, VapiPayloads.ToolCall(Guid.NewGuid().ToString(), phone,
            "call_" + Guid.NewGuid().ToString("N"), "request_callback", new { reason = "wants to rebook a consultation", preferredTime = "after 5pm" })));
        Assert.False(error, text);
        await ReceptionFixtures.VapiJsonAsync(secret, VapiPayloads.ToolCall(Guid.NewGuid().ToString(), phone, "call_" + Guid.NewGuid().ToString("N"),
            "lookup_knowledge", new { question = "do you sell gift vouchers" }));
        var callbackId = await TestApp.ScalarAsync<Guid>("select id from callbacks where clinic_id = $1", clinic.Id);
        var gapId = await TestApp.ScalarAsync<Guid>("select id from knowledge_gaps where clinic_id = $1", clinic.Id);

        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _c = client;
        var items = (await client.GetAsync(ConsoleRoutes.Queue)).Document.QuerySelectorAll("ul.items > li").Select(li => li.TextContent).ToList();
        Assert.Equal(2, items.Count);
        Assert.Contains("Call back " + phone, items[0]);
        Assert.Contains("wants to rebook a consultation", items[0]);
        Assert.Contains("after 5pm", items[0]);
        Assert.Contains("Called back", items[0]);
        Assert.Contains("“do you sell gift vouchers”", items[1]);

        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync($"{ConsoleRoutes.Queue}/callbacks/{callbackId}", ("action", "explode"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"{ConsoleRoutes.Queue}/callbacks/{Guid.NewGuid()}", ("action", "done"))).Status);
        var tried = await client.PostAsync($"{ConsoleRoutes.Queue}/callbacks/{callbackId}", ("action", "no_answer"));
        Assert.Equal(ConsoleRoutes.Queue + "?done=done", tried.Location);
        Assert.Contains("No answer (1)", (await client.GetAsync(ConsoleRoutes.Queue)).Text);
        var done = await client.PostAsync($"{ConsoleRoutes.Queue}/callbacks/{callbackId}", ("action", "done"));
        Assert.Equal(ConsoleRoutes.Queue + "?done=done", done.Location);
        Assert.Equal("done", await TestApp.ScalarAsync<string>("select status from callbacks where id = $1", callbackId));
        Assert.Equal(2L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'callback_updated'", clinic.Id));
        Assert.DoesNotContain("Call back " + phone, (await client.GetAsync(ConsoleRoutes.Queue)).Text);
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync($"{ConsoleRoutes.Queue}/callbacks/{callbackId}", ("action", "done"))).Status);

        // A gap is answered by an admin, with the answer's text.
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync($"{ConsoleRoutes.Queue}/gaps/{gapId}", ("action", "answer"), ("answer", "Yes."))).Status);
        var (admin, _) = await ConsoleClient.SignedInAsync(clinic.Id, "admin");
        using var _a = admin;
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsync($"{ConsoleRoutes.Queue}/gaps/{gapId}", ("action", "answer"))).Status);
        var answered = await admin.PostAsync($"{ConsoleRoutes.Queue}/gaps/{gapId}", ("action", "answer"), ("answer", "Yes, from £50 at reception."));
        Assert.Equal(ConsoleRoutes.Queue + "?done=done", answered.Location);
        Assert.Equal("answered", await TestApp.ScalarAsync<string>("select status from knowledge_gaps where id = $1", gapId));
        Assert.Empty((await admin.GetAsync(ConsoleRoutes.Queue)).Document.QuerySelectorAll("ul.items > li"));
    }
}
