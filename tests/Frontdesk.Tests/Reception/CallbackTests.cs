using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Privacy;
using Frontdesk.Tests.Calls;
using Frontdesk.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Frontdesk.Tests.Reception;

/// <summary>request_callback, and the staff API: GET …/callbacks?status=, PATCH …/callbacks/{id}; export, erasure, retention.</summary>
public class CallbackTests
{
    static async Task<(string Text, bool Error)> ToolAsync(string secret, string call, string? phone, object args, string? toolCallId = null)
    {
        var payload = VapiPayloads.ToolCall(call, phone!, toolCallId ?? "call_" + Guid.NewGuid().ToString("N"), "request_callback", args);
        return VapiPayloads.Result(await ReceptionFixtures.VapiJsonAsync(secret, payload));
    }

    static async Task<JsonElement> ListAsync(Guid clinic, string query = "", string role = "receptionist")
    {
        using var staff = TestApp.As(clinic, role);
        return await TestClinic.Json(await staff.GetAsync($"/api/clinics/{clinic}/callbacks{query}"));
    }

    [Fact]
    public async Task Request_callback_opens_one_callback_per_call_with_the_number_sealed_and_the_reason_sanitized()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        await ReceptionFixtures.PutSettingsAsync(clinic.Id, ReceptionFixtures.ClosedToday("Europe/London"));
        var phone = ReceptionFixtures.NewPhone();
        var call = Guid.NewGuid().ToString();
        var args = new { reason = "This is Margaret Thornbury, I'd like to talk about my rhinoplasty results", preferredTime = "after 5pm" };

        var (text, error) = await ToolAsync(secret, call, phone, args);
        Assert.False(error, text);
        Assert.Contains(phone[^4..], text, StringComparison.Ordinal);
        Assert.Contains("after 5pm", text, StringComparison.Ordinal);
        // The model re-issues it (a new toolCallId): nothing more.
        var again = await ToolAsync(secret, call, phone, args);
        Assert.Equal(text, again.Text);

        var callback = Assert.Single((await ListAsync(clinic.Id, "?status=open")).EnumerateArray());
        Assert.Equal(call, callback.GetProperty("callId").GetString());
        Assert.Equal(phone, callback.GetProperty("phone").GetString());
        Assert.Equal("after 5pm", callback.GetProperty("preferredTime").GetString());
        Assert.Equal("request", callback.GetProperty("source").GetString());
        Assert.Equal("normal", callback.GetProperty("priority").GetString());
        var reason = callback.GetProperty("reason").GetString()!;
        Assert.DoesNotContain("Thornbury", reason, StringComparison.Ordinal);
        Assert.Contains("[NAME]", reason, StringComparison.Ordinal);
        Assert.Contains("rhinoplasty results", reason, StringComparison.Ordinal);
        Assert.True(callback.TryGetProperty("createdAt", out _));
        Assert.True(callback.TryGetProperty("id", out _));
        // Nothing personal in plaintext: the raw reason and the number are sealed.
        var content = Encoding.UTF8.GetString((await TestApp.ScalarAsync<byte[]>("select content from callbacks where clinic_id = $1", clinic.Id))!);
        Assert.DoesNotContain("Thornbury", content, StringComparison.Ordinal);
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'callback_opened'", clinic.Id));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and detail::text like '%Thornbury%'", clinic.Id));

        // Asked again with another time: the same callback, updated.
        var (changed, _) = await ToolAsync(secret, call, phone, new { reason = "rhinoplasty results", preferredTime = "tomorrow morning" });
        Assert.Contains("tomorrow morning", changed, StringComparison.Ordinal);
        var updated = Assert.Single((await ListAsync(clinic.Id)).EnumerateArray());
        Assert.Equal("tomorrow morning", updated.GetProperty("preferredTime").GetString());
        Assert.Equal(callback.GetProperty("id").GetGuid(), updated.GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Without_a_preferred_time_the_caller_hears_when_the_closed_clinic_will_call()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        await ReceptionFixtures.PutSettingsAsync(clinic.Id, ReceptionFixtures.ClosedToday("Europe/London"));
        var (text, error) = await ToolAsync(secret, Guid.NewGuid().ToString(), ReceptionFixtures.NewPhone(), new { reason = "question about my bill" });
        Assert.False(error, text);
        Assert.Contains("tomorrow at 00:00", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task While_open_or_without_hours_the_caller_hears_the_team_will_call_as_soon_as_they_can()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        var (noHours, _) = await ToolAsync(secret, Guid.NewGuid().ToString(), ReceptionFixtures.NewPhone(), new { reason = "question about my bill" });
        Assert.EndsWith("as soon as they can.", noHours, StringComparison.Ordinal);
        await ReceptionFixtures.PutSettingsAsync(clinic.Id, new { openingHours = JsonDocument.Parse(ReceptionFixtures.AlwaysOpen).RootElement });
        var (open, _) = await ToolAsync(secret, Guid.NewGuid().ToString(), ReceptionFixtures.NewPhone(), new { reason = "question about my bill" });
        Assert.Contains("as soon as they can today", open, StringComparison.Ordinal);
        Assert.Equal(2L, await TestApp.ScalarAsync<long>("select count(*) from callbacks where clinic_id = $1", clinic.Id));
    }

    [Fact]
    public async Task A_withheld_caller_gives_a_number_and_a_reason_describing_an_emergency_is_urgent()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        var call = Guid.NewGuid().ToString();
        var (refused, isError) = await ToolAsync(secret, call, null, new { reason = "about my appointment" });
        Assert.True(isError);
        Assert.Contains("best number", refused, StringComparison.Ordinal);
        var (bad, badError) = await ToolAsync(secret, call, null, new { reason = "about my appointment", callbackNumber = "12" });
        Assert.True(badError);
        Assert.Contains("doesn't look right", bad, StringComparison.Ordinal);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from callbacks where clinic_id = $1", clinic.Id));

        var (ok, okError) = await ToolAsync(secret, call, null, new { reason = "my wound is bleeding quite a lot", callbackNumber = "07911 123456" });
        Assert.False(okError, ok);
        var callback = Assert.Single((await ListAsync(clinic.Id)).EnumerateArray());
        Assert.Equal("+447911123456", callback.GetProperty("phone").GetString());
        Assert.Equal("urgent", callback.GetProperty("priority").GetString());
    }

    [Fact]
    public async Task A_reason_is_required_and_a_missing_one_stores_nothing()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        var (text, error) = await ToolAsync(secret, Guid.NewGuid().ToString(), ReceptionFixtures.NewPhone(), new { reason = "   " });
        Assert.True(error);
        Assert.Contains("about", text, StringComparison.Ordinal);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from callbacks where clinic_id = $1", clinic.Id));
    }

    static async Task<(Guid Clinic, string Secret, Guid Callback, string Phone, string Call)> OneCallbackAsync()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        var phone = ReceptionFixtures.NewPhone();
        var call = Guid.NewGuid().ToString();
        var (text, error) = await ToolAsync(secret, call, phone, new { reason = "wants to move a consultation" });
        Assert.False(error, text);
        var id = (await ListAsync(clinic.Id))[0].GetProperty("id").GetGuid();
        return (clinic.Id, secret, id, phone, call);
    }

    [Fact]
    public async Task Staff_mark_a_callback_no_answer_then_done_with_a_sealed_note_audited_and_done_stays_done()
    {
        var (clinic, _, id, _, _) = await OneCallbackAsync();
        using var staff = TestApp.As(clinic, "receptionist");

        var tried = await TestClinic.Json(await staff.PatchAsJsonAsync($"/api/clinics/{clinic}/callbacks/{id}", new { status = "no_answer", note = "Rang 10:05, voicemail" }));
        Assert.Equal("no_answer", tried.GetProperty("status").GetString());
        Assert.Equal("Rang 10:05, voicemail", tried.GetProperty("note").GetString());
        Assert.Equal(1, tried.GetProperty("attempts").GetInt32());
        Assert.Empty((await ListAsync(clinic, "?status=open")).EnumerateArray());
        Assert.Single((await ListAsync(clinic, "?status=no_answer")).EnumerateArray());

        var done = await TestClinic.Json(await staff.PatchAsJsonAsync($"/api/clinics/{clinic}/callbacks/{id}", new { status = "done" }));
        Assert.Equal("done", done.GetProperty("status").GetString());
        Assert.Equal("Rang 10:05, voicemail", done.GetProperty("note").GetString());
        Assert.Equal(2, done.GetProperty("attempts").GetInt32());
        Assert.Single((await ListAsync(clinic, "?status=all")).EnumerateArray());

        using var again = await staff.PatchAsJsonAsync($"/api/clinics/{clinic}/callbacks/{id}", new { status = "no_answer" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(Problems.Conflict, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());

        Assert.DoesNotContain("voicemail", Encoding.UTF8.GetString((await TestApp.ScalarAsync<byte[]>("select note from callbacks where id = $1", id))!), StringComparison.Ordinal);
        Assert.Equal(2L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and action = 'callback_updated' and entity_id = $2", clinic, id.ToString()));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from audit_trail where clinic_id = $1 and detail::text like '%voicemail%'", clinic));
    }

    [Theory]
    [InlineData("""{"status": "closed"}""", "status")]
    [InlineData("""{"status": "open"}""", "status")]
    [InlineData("""{}""", "status")]
    [InlineData("""{"status": "done", "note": "   "}""", "note")]
    [InlineData("""{"status": "done", "note": "a\u0000b"}""", "note")]
    public async Task A_bad_update_is_400_and_changes_nothing(string body, string expected)
    {
        var (clinic, _, id, _, _) = await OneCallbackAsync();
        using var staff = TestApp.As(clinic, "admin");
        using var r = await staff.PatchAsync($"/api/clinics/{clinic}/callbacks/{id}", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var problem = await r.Content.ReadFromJsonAsync<JsonElement>();
        // A NUL is refused at binding (Platform/InputGuard), before the handler names the member.
        var nul = body.Contains("\\u0000", StringComparison.Ordinal);
        Assert.Equal(nul ? Problems.MalformedRequest : Problems.Validation, problem.GetProperty("type").GetString());
        if (!nul) Assert.Contains(expected, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("open", await TestApp.ScalarAsync<string>("select status from callbacks where id = $1", id));
        Assert.Equal(0, await TestApp.ScalarAsync<int>("select attempts from callbacks where id = $1", id));
    }

    [Fact]
    public async Task Listing_callbacks_decrypts_callers_numbers_so_every_listing_is_audited_with_whom_it_showed()
    {
        var (clinic, _, id, _, _) = await OneCallbackAsync();
        const string Listings = "select count(*) from audit_trail where clinic_id = $1 and action = 'accessed' and entity = 'callbacks'";
        var before = await TestApp.ScalarAsync<long>(Listings, clinic);
        using var staff = TestApp.As(clinic, "receptionist");
        using var listed = await staff.GetAsync($"/api/clinics/{clinic}/callbacks");
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        Assert.Equal(before + 1, await TestApp.ScalarAsync<long>(Listings, clinic));
        Assert.True(await TestApp.ScalarAsync<bool>(Listings.Replace("count(*)", "bool_or(detail->>'status' = 'open' and detail->'callbacks' ? $2)",
            StringComparison.Ordinal), clinic, id.ToString()));
        // A refused filter shows nothing and audits nothing.
        using var refused = await staff.GetAsync($"/api/clinics/{clinic}/callbacks?status=pending");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(before + 1, await TestApp.ScalarAsync<long>(Listings, clinic));
    }

    [Fact]
    public async Task A_long_note_an_unknown_callback_and_an_unknown_status_filter_are_refused()
    {
        var (clinic, _, id, _, _) = await OneCallbackAsync();
        using var staff = TestApp.As(clinic, "doctor");
        using var longNote = await staff.PatchAsJsonAsync($"/api/clinics/{clinic}/callbacks/{id}", new { status = "done", note = new string('n', 2001) });
        Assert.Equal(HttpStatusCode.BadRequest, longNote.StatusCode);
        using var unknown = await staff.PatchAsJsonAsync($"/api/clinics/{clinic}/callbacks/{Guid.NewGuid()}", new { status = "done" });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(Problems.NotFound, (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        using var filter = await staff.GetAsync($"/api/clinics/{clinic}/callbacks?status=pending");
        Assert.Equal(HttpStatusCode.BadRequest, filter.StatusCode);
        Assert.Equal("open", await TestApp.ScalarAsync<string>("select status from callbacks where id = $1", id));
    }

    [Fact]
    public async Task Callbacks_are_for_staff_roles_and_another_clinic_sees_none_of_them()
    {
        var (clinic, _, id, _, _) = await OneCallbackAsync();
        using var noRole = TestApp.Client(TestApp.Token(RequestClaims.ForClinic(clinic, "no-role")));
        using var listed = await noRole.GetAsync($"/api/clinics/{clinic}/callbacks");
        Assert.Equal(HttpStatusCode.Forbidden, listed.StatusCode);
        using var patched = await noRole.PatchAsJsonAsync($"/api/clinics/{clinic}/callbacks/{id}", new { status = "done" });
        Assert.Equal(HttpStatusCode.Forbidden, patched.StatusCode);

        var (other, _) = await ReceptionFixtures.ClinicAsync();
        Assert.Empty((await ListAsync(other.Id, "?status=all")).EnumerateArray());
        using var otherAdmin = TestApp.As(other.Id, "admin");
        using var cross = await otherAdmin.PatchAsJsonAsync($"/api/clinics/{other.Id}/callbacks/{id}", new { status = "done" });
        Assert.Equal(HttpStatusCode.NotFound, cross.StatusCode);
        Assert.Equal("open", await TestApp.ScalarAsync<string>("select status from callbacks where id = $1", id));
    }

    [Fact]
    public async Task A_patients_export_shows_their_callbacks_decrypted_and_erasure_deletes_them()
    {
        var (clinic, secret) = await ReceptionFixtures.ClinicAsync();
        var phone = ReceptionFixtures.NewPhone();
        using var svc = TestApp.Service();
        var patient = (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinic.Id}/patients", new { name = "Nora Quillfeather", phone }))).GetProperty("id").GetGuid();
        var (text, error) = await ToolAsync(secret, Guid.NewGuid().ToString(), phone, new { reason = "Nora Quillfeather about her filler review" });
        Assert.False(error, text);
        var id = (await ListAsync(clinic.Id))[0].GetProperty("id").GetGuid();
        using (var staff = TestApp.As(clinic.Id, "receptionist"))
            await TestClinic.Json(await staff.PatchAsJsonAsync($"/api/clinics/{clinic.Id}/callbacks/{id}", new { status = "no_answer", note = "left a message" }));

        using var admin = TestApp.As(clinic.Id, "admin");
        var export = await TestClinic.Json(await admin.GetAsync($"/api/patients/{clinic.Id}/{patient}/export"));
        var exported = Assert.Single(export.GetProperty("callbacks").EnumerateArray());
        Assert.Equal(phone, exported.GetProperty("phone").GetString());
        Assert.Equal("Nora Quillfeather about her filler review", exported.GetProperty("reason").GetString());
        Assert.Equal("left a message", exported.GetProperty("note").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/patients/{clinic.Id}/{patient}")).StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from callbacks where clinic_id = $1", clinic.Id));
        Assert.Equal("1", await TestApp.ScalarAsync<string>(
            "select detail ->> 'callbacks' from audit_trail where clinic_id = $1 and action = 'erased'", clinic.Id));
    }

    [Fact]
    public async Task Retention_deletes_callbacks_closed_longer_ago_than_the_clinics_period_and_keeps_open_ones()
    {
        var (clinic, secret, closedId, _, _) = await OneCallbackAsync();
        using (var staff = TestApp.As(clinic, "receptionist"))
            await TestClinic.Json(await staff.PatchAsJsonAsync($"/api/clinics/{clinic}/callbacks/{closedId}", new { status = "done" }));
        var (text, error) = await ToolAsync(secret, Guid.NewGuid().ToString(), ReceptionFixtures.NewPhone(), new { reason = "still waiting" });
        Assert.False(error, text);
        await TestApp.ExecAsync("update clinics set call_content_retention_days = 1 where id = $1", clinic);
        await TestApp.ExecAsync("update callbacks set updated_at = now() - interval '2 days', created_at = now() - interval '2 days' where clinic_id = $1", clinic);

        var pass = await TestApp.Factory.Services.GetRequiredService<RetentionWorker>().RunOnceAsync(default);
        Assert.True(pass.Purged["closed callbacks"] >= 1);
        Assert.Equal(["open"], (await ListAsync(clinic, "?status=all")).EnumerateArray().Select(c => c.GetProperty("status").GetString()));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from callbacks where id = $1", closedId));
    }
}
