using System.Net;
using Frontdesk.Inbox;
using Frontdesk.StaffConsole;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Knowledge;
using Frontdesk.Tests.Reception;
using Microsoft.Extensions.DependencyInjection;
using static Frontdesk.Tests.Reminders.ReminderHelpers;

namespace Frontdesk.Tests.StaffConsole;

/// <summary>The work queue's items from reception, the inbox and the waitlist: listed for the roles
/// their APIs allow, acted on through the features' own code, bad input a 400 page that changes
/// nothing, and another clinic's staff reach none of them by id.</summary>
public class ConsoleWorkQueueTests
{
    static async Task CallbackAsync(string secret, string phone)
    {
        var (text, error) = VapiPayloads.Result(await ReceptionFixtures.VapiJsonAsync(secret, VapiPayloads.ToolCall(Guid.NewGuid().ToString(), phone,
            "call_" + Guid.NewGuid().ToString("N"), "request_callback", new { reason = "wants to rebook a consultation" })));
        Assert.False(error, text);
    }

    static AngleSharp.Dom.IElement? Item(ConsoleClient.Page page, string text) =>
        page.Document.QuerySelectorAll("ul.items > li").FirstOrDefault(li => li.TextContent.Contains(text, StringComparison.Ordinal));

    [Fact]
    public async Task Call_notes_go_with_a_callback_action_sealed_and_a_bad_note_is_a_400_page_that_changes_nothing()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        var phone = ReceptionFixtures.NewPhone();
        await CallbackAsync(secret, phone);
        var id = await TestApp.ScalarAsync<Guid>("select id from callbacks where clinic_id = $1", clinic.Id);
        var (client, _) = await ConsoleClient.SignedInAsync(clinic.Id, "doctor");
        using var _c = client;

        var item = Item(await client.GetAsync(ConsoleRoutes.Queue), "Call back " + phone)!;
        var form = item.QuerySelector("form")!;
        Assert.Equal($"{ConsoleRoutes.Queue}/callbacks/{id}", form.GetAttribute("action"));
        var note = form.QuerySelector("textarea[name=note]")!;
        Assert.Equal("Call notes", item.QuerySelector($"label[for='{note.Id}']")!.ChildNodes[0].TextContent.Trim());
        Assert.Equal(["done", "no_answer"], form.QuerySelectorAll("button[name=action]").Select(b => b.GetAttribute("value")!).ToArray());

        var bad = await client.PostAsync($"{ConsoleRoutes.Queue}/callbacks/{id}", ("action", "no_answer"), ("note", "rang\u0001"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Equal("Work queue", bad.H1);
        Assert.Contains("Call notes are text of at most 2000 characters", bad.Text);
        var tooLong = await client.PostAsync($"{ConsoleRoutes.Queue}/callbacks/{id}", ("action", "no_answer"), ("note", new string('x', 2001)));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.Status);
        // What was typed is in the field again, for this item only.
        Assert.Equal(new string('x', 2001), Item(tooLong, "Call back " + phone)!.QuerySelector("textarea[name=note]")!.TextContent);
        Assert.Equal("0|open", await TestApp.ScalarAsync<string>("select attempts || '|' || status from callbacks where id = $1", id));

        var tried = await client.PostAsync($"{ConsoleRoutes.Queue}/callbacks/{id}", ("action", "no_answer"), ("note", "Rang at 3pm,\r\nleft a voicemail"));
        Assert.Equal(ConsoleRoutes.Queue + "?done=done", tried.Location);
        var after = Item(await client.GetAsync(ConsoleRoutes.Queue), "Call back " + phone)!;
        Assert.Contains("note: Rang at 3pm", after.TextContent);
        Assert.Contains("No answer (1)", after.TextContent);
        // Sealed under the caller's key, like the API's note: the words are not in the row.
        Assert.Equal(0L, await TestApp.ScalarAsync<long>(
            "select count(*) from callbacks where id = $1 and position(convert_to('voicemail', 'UTF8') in note) > 0", id));
        // An empty note keeps the previous one.
        await client.PostAsync($"{ConsoleRoutes.Queue}/callbacks/{id}", ("action", "done"), ("note", "  "));
        using var api = TestApp.As(clinic.Id, "receptionist");
        var view = await TestClinic.Json(await api.GetAsync($"/api/clinics/{clinic.Id}/callbacks?status=done"));
        Assert.Equal("Rang at 3pm,\nleft a voicemail", Assert.Single(view.EnumerateArray()).GetProperty("note").GetString()!.Replace("\r", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_admin_answers_a_knowledge_gap_in_the_queue_and_the_next_caller_hears_the_answer()
    {
        var (clinicId, secret) = await KnowledgeFixtures.VapiClinicAsync(loadCorpus: false);
        async Task<(string Text, bool Error)> LookupAsync(string question) =>
            VapiPayloads.Result(await ReceptionFixtures.VapiJsonAsync(secret, VapiPayloads.ToolCall(Guid.NewGuid().ToString(), ReceptionFixtures.NewPhone(),
                "call_" + Guid.NewGuid().ToString("N"), "lookup_knowledge", new { question })));
        var (first, _) = await LookupAsync("Is there parking near you?");
        Assert.DoesNotContain("Weymouth", first, StringComparison.Ordinal);
        var gapId = await TestApp.ScalarAsync<Guid>("select id from knowledge_gaps where clinic_id = $1", clinicId);

        // A receptionist sees the question but no answer form (answering changes the knowledge base: admins).
        var (receptionist, _) = await ConsoleClient.SignedInAsync(clinicId, "receptionist");
        using var _r = receptionist;
        var seen = Item(await receptionist.GetAsync(ConsoleRoutes.Queue), "Is there parking near you?")!;
        Assert.Null(seen.QuerySelector("form"));

        var (admin, _) = await ConsoleClient.SignedInAsync(clinicId, "admin");
        using var _a = admin;
        var item = Item(await admin.GetAsync(ConsoleRoutes.Queue), "Is there parking near you?")!;
        var answer = item.QuerySelector("form textarea[name=answer]")!;
        Assert.True(answer.HasAttribute("required"));
        Assert.Equal("4000", answer.GetAttribute("maxlength"));
        Assert.Equal("answer", item.QuerySelector("form button[name=action]")!.GetAttribute("value"));

        var empty = await admin.PostAsync($"{ConsoleRoutes.Queue}/gaps/{gapId}", ("action", "answer"), ("answer", "   "));
        Assert.Equal(HttpStatusCode.BadRequest, empty.Status);
        Assert.Contains("Write the answer", empty.Text);
        Assert.Equal("open", await TestApp.ScalarAsync<string>("select status from knowledge_gaps where id = $1", gapId));

        var done = await admin.PostAsync($"{ConsoleRoutes.Queue}/gaps/{gapId}", ("action", "answer"),
            ("answer", "There is a pay and display car park two minutes away on Weymouth Street."));
        Assert.Equal(ConsoleRoutes.Queue + "?done=done", done.Location);
        Assert.Null(Item(await admin.GetAsync(ConsoleRoutes.Queue), "Is there parking near you?"));
        var (next, error) = await LookupAsync("where can I park?");
        Assert.False(error, next);
        Assert.Contains("Weymouth Street", next, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_patients_SMS_reply_is_in_the_queue_for_reception_and_marked_handled_through_the_inbox_code()
    {
        var (clinic, patient, phone) = await ClinicAsync(patientName: "Jane Doe");
        await BookAsync(clinic.Id, clinic.SlotIds[1], patient);
        var replies = TestApp.Factory.Services.GetRequiredService<InboundReplies>();
        var outcome = await replies.HandleAsync([clinic.Id], phone, "SM" + Guid.NewGuid().ToString("N"), "Can I bring my husband along?",
            ReplyKind.Message, CancellationToken.None);
        var replyId = Assert.IsType<ReplyOutcome.Inboxed>(outcome).ReplyId;

        var (receptionist, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _r = receptionist;
        var item = Item(await receptionist.GetAsync(ConsoleRoutes.Queue), "Text from Jane Doe")!;
        Assert.Contains("“Can I bring my husband along?”", item.TextContent);
        Assert.Contains("about the booking with", item.TextContent);
        Assert.Equal($"{ConsoleRoutes.Queue}/inbox/{replyId}", item.QuerySelector("form")!.GetAttribute("action"));
        // The texts were opened for this reader: the view is audited with the ids it showed, never the text.
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("""
            select count(*) from audit_trail where clinic_id = $1 and action = 'console_viewed' and entity_id = 'queue'
              and detail -> 'detail' -> 'shown' -> 'inbox' ? $2 and position('husband' in detail::text) = 0
            """, clinic.Id, replyId.ToString()));

        // The inbox API's roles: a doctor does not see the texts, nor act on them.
        var (doctor, _) = await ConsoleClient.SignedInAsync(clinic.Id, "doctor");
        using var _d = doctor;
        Assert.Null(Item(await doctor.GetAsync(ConsoleRoutes.Queue), "Text from"));
        Assert.Equal(HttpStatusCode.Forbidden, (await doctor.PostAsync($"{ConsoleRoutes.Queue}/inbox/{replyId}", ("action", "handled"))).Status);
        // Another clinic's receptionist reaches nothing by id.
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (stranger, _) = await ConsoleClient.SignedInAsync(other.Id, "receptionist");
        using var _s = stranger;
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"{ConsoleRoutes.Queue}/inbox/{replyId}", ("action", "handled"))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await receptionist.PostAsync($"{ConsoleRoutes.Queue}/inbox/{replyId}", ("action", "open"))).Status);
        Assert.Equal("open", await TestApp.ScalarAsync<string>("select status from sms_replies where id = $1", replyId));

        var handled = await receptionist.PostAsync($"{ConsoleRoutes.Queue}/inbox/{replyId}", ("action", "handled"));
        Assert.Equal(ConsoleRoutes.Queue + "?done=done", handled.Location);
        Assert.Equal("handled", await TestApp.ScalarAsync<string>("select status from sms_replies where id = $1", replyId));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'inbox_handled' and entity_id = $2", clinic.Id, replyId.ToString()));
        Assert.Null(Item(await receptionist.GetAsync(ConsoleRoutes.Queue), "Text from Jane Doe"));
    }

    [Fact]
    public async Task A_lapsed_waitlist_offer_stays_in_the_queue_until_seen_and_can_take_the_patient_off_the_waitlist()
    {
        var (clinic, patient, _) = await ClinicAsync(patientName: "Jane Doe");
        async Task<(Guid Entry, Guid Offer)> LapsedAsync(int slot)
        {
            var entry = await TestApp.ScalarAsync<Guid>("""
                insert into waitlist_entries (clinic_id, patient_id, expires_at, source) values ($1, $2, now() + interval '14 days', 'staff') returning id
                """, clinic.Id, patient);
            var offer = await TestApp.ScalarAsync<Guid>("""
                insert into waitlist_offers (clinic_id, entry_id, slot_id, status, offered_at, expires_at, closed_at)
                values ($1, $2, $3, 'lapsed', now() - interval '40 minutes', now() - interval '10 minutes', now() - interval '10 minutes') returning id
                """, clinic.Id, entry, clinic.SlotIds[slot]);
            return (entry, offer);
        }
        var (entry1, offer1) = await LapsedAsync(0);
        var (entry2, offer2) = await LapsedAsync(1);

        var (receptionist, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _r = receptionist;
        var queue = await receptionist.GetAsync(ConsoleRoutes.Queue);
        var items = queue.Document.QuerySelectorAll("ul.items > li").Where(li => li.TextContent.Contains("Waitlist offer not taken: Jane", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, items.Count);
        Assert.Contains("still on the waitlist", items[0].TextContent);
        Assert.Contains("Remove from waitlist", items[0].TextContent);

        // Doctors do not change the waitlist; another clinic reaches nothing; unknown actions are 400.
        var (doctor, _) = await ConsoleClient.SignedInAsync(clinic.Id, "doctor");
        using var _d = doctor;
        Assert.Null(Item(await doctor.GetAsync(ConsoleRoutes.Queue), "Waitlist offer"));
        Assert.Equal(HttpStatusCode.Forbidden, (await doctor.PostAsync($"{ConsoleRoutes.Queue}/waitlist/{offer1}", ("action", "seen"))).Status);
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (stranger, _) = await ConsoleClient.SignedInAsync(other.Id, "admin");
        using var _s = stranger;
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync($"{ConsoleRoutes.Queue}/waitlist/{offer1}", ("action", "remove"))).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await receptionist.PostAsync($"{ConsoleRoutes.Queue}/waitlist/{offer1}", ("action", "book"))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await receptionist.PostAsync($"{ConsoleRoutes.Queue}/waitlist/not-an-id", ("action", "seen"))).Status);
        Assert.Null(await TestApp.ScalarAsync<DateTime?>("select acknowledged_at from waitlist_offers where id = $1", offer1));

        // Seen: off the queue, the patient still waits.
        Assert.Equal(ConsoleRoutes.Queue + "?done=done", (await receptionist.PostAsync($"{ConsoleRoutes.Queue}/waitlist/{offer1}", ("action", "seen"))).Location);
        Assert.Equal("waiting", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", entry1));
        Assert.StartsWith("staff:", await TestApp.ScalarAsync<string>("select acknowledged_by from waitlist_offers where id = $1", offer1));
        Assert.Equal(HttpStatusCode.NotFound, (await receptionist.PostAsync($"{ConsoleRoutes.Queue}/waitlist/{offer1}", ("action", "seen"))).Status);

        // Remove: off the queue and off the waitlist, through the API's removal (audited as it is).
        Assert.Equal(ConsoleRoutes.Queue + "?done=done", (await receptionist.PostAsync($"{ConsoleRoutes.Queue}/waitlist/{offer2}", ("action", "remove"))).Location);
        Assert.Equal("removed", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", entry2));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'removed' and entity_id = $2", clinic.Id, entry2.ToString()));
        Assert.Equal(2L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'acknowledged' and entity = 'waitlist_offer'", clinic.Id));
        Assert.Null(Item(await receptionist.GetAsync(ConsoleRoutes.Queue), "Waitlist offer"));
    }

    [Fact]
    public async Task A_patients_page_shows_their_texts_and_waitlist_entries_and_removes_an_entry_through_the_waitlist_code()
    {
        var (clinic, patient, phone) = await ClinicAsync(patientName: "Jane Doe");
        var replies = TestApp.Factory.Services.GetRequiredService<InboundReplies>();
        await replies.HandleAsync([clinic.Id], phone, "SM" + Guid.NewGuid().ToString("N"), "Running ten minutes late", ReplyKind.Message, CancellationToken.None);
        var entry = await TestApp.ScalarAsync<Guid>("""
            insert into waitlist_entries (clinic_id, patient_id, practitioner_id, part_of_day, expires_at, source)
            values ($1, $2, $3, 'morning', now() + interval '14 days', 'staff') returning id
            """, clinic.Id, patient, clinic.PractitionerId);
        var url = $"{ConsoleRoutes.Patients}/{patient}";
        var remove = $"{url}/waitlist/{entry}/remove";

        var (receptionist, _) = await ConsoleClient.SignedInAsync(clinic.Id, "receptionist");
        using var _r = receptionist;
        var page = await receptionist.GetAsync(url);
        Assert.Contains("Running ten minutes late", page.Document.QuerySelector("section[aria-labelledby=rp-h]")!.TextContent);
        var waitlist = page.Document.QuerySelector("section[aria-labelledby=wl-h]")!.TextContent;
        Assert.Contains("(mornings)", waitlist);
        Assert.Contains("waiting", waitlist);
        Assert.NotNull(page.Document.QuerySelector($"form[action='{remove}']"));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'accessed' and entity_id = $2 and (detail->>'texts')::int = 1", clinic.Id, patient.ToString()));

        // A doctor sees the waitlist but neither the texts (the inbox's roles) nor a way to change it.
        var (doctor, _) = await ConsoleClient.SignedInAsync(clinic.Id, "doctor");
        using var _d = doctor;
        var seen = await doctor.GetAsync(url);
        Assert.Null(seen.Document.QuerySelector("section[aria-labelledby=rp-h]"));
        Assert.DoesNotContain("Running ten minutes late", seen.Html);
        Assert.Null(seen.Document.QuerySelector($"form[action='{remove}']"));
        Assert.Equal(HttpStatusCode.Forbidden, (await doctor.PostAsync(remove)).Status);
        // Another clinic's staff, and another patient's URL, reach nothing.
        var other = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (stranger, _) = await ConsoleClient.SignedInAsync(other.Id, "admin");
        using var _s = stranger;
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.PostAsync(remove)).Status);
        var someoneElse = await PatientAsync(clinic.Id, NewPhone(), "John Roe");
        Assert.Equal(HttpStatusCode.NotFound, (await receptionist.PostAsync($"{ConsoleRoutes.Patients}/{someoneElse}/waitlist/{entry}/remove")).Status);
        Assert.Equal("waiting", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", entry));

        var removed = await receptionist.PostAsync(remove);
        Assert.Equal($"{url}?done=done", removed.Location);
        Assert.Equal("removed", await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", entry));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'removed' and entity_id = $2", clinic.Id, entry.ToString()));
        Assert.Null((await receptionist.GetAsync(url)).Document.QuerySelector("section[aria-labelledby=wl-h]"));
        Assert.Equal(HttpStatusCode.NotFound, (await receptionist.PostAsync(remove)).Status);
    }
}
