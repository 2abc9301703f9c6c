using System.Text;
using Frontdesk.BookingPage;
using Frontdesk.Calendar;
using Frontdesk.Clinics;
using Frontdesk.FollowUp;
using Frontdesk.Knowledge;

namespace Frontdesk.StaffConsole;

/// <summary>
/// Settings (admins): follow-up template and quiet hours, reception, reminders and SMS limits
/// (<see cref="ReceptionSettingsPages"/>), procedures, practitioners and their calendars, knowledge
/// documents, Vapi wiring. Every form calls the API's own handler, so the
/// validation, role check and audit row are the API's; a refusal shows the API's message.
/// </summary>
public static class SettingsPages
{
    public static void Map(RouteGroupBuilder console)
    {
        var settings = console.MapGroup("/settings").RequireAuthorization(ConsolePolicies.Admin);
        settings.MapGet("", Show);
        settings.MapPost("/followup", SaveFollowUp);
        settings.MapPost("/procedures", SaveProcedure);
        settings.MapPost("/procedures/delete", DeleteProcedure);
        settings.MapPost("/practitioners", AddPractitioner);
        settings.MapPost("/calendar", LinkCalendar);
        settings.MapPost("/knowledge", SaveDocument);
        settings.MapPost("/knowledge/{documentId:guid}/delete", DeleteDocument);
        settings.MapPost("/vapi", SaveVapi);
        ReceptionSettingsPages.Map(settings);
    }

    sealed record PractitionerRow(Guid Id, string Name, string? CalendarId);

    static Task<ContentHttpResult> Show(HttpContext http, Db db, CancellationToken ct) => Render(http, db, 200, null, null, ct);

    /// <summary>The settings page again with a refusal, the refused section's form refilled from <paramref name="posted"/>.</summary>
    public static Task<ContentHttpResult> Refuse(HttpContext http, Db db, int status, string problem, IFormCollection posted, string section, CancellationToken ct) =>
        Render(http, db, status, problem, null, ct, posted, section);

    static async Task<ContentHttpResult> Render(HttpContext http, Db db, int status, string? problem, UpdateFollowUp? typed, CancellationToken ct,
        IFormCollection? posted = null, string? section = null)
    {
        var user = ConsoleUser.Of(http);
        var followUp = (await FollowUpSettingsEndpoints.Get(user.ClinicId, http, db, ct)).Result as Ok<FollowUpSettings>;
        var vapi = (await VapiSettingsEndpoints.Get(user.ClinicId, http, db, ct)).Result as Ok<VapiSettings>;
        IReadOnlyList<PractitionerRow> practitioners;
        IReadOnlyList<KnowledgeStore.DocumentView> documents;
        await using (var s = await db.BeginAsync(user.Claims, ct))
        {
            practitioners = await s.QueryAsync<PractitionerRow>("select id, name, calendar_id from practitioners where clinic_id = @C order by name",
                new { C = user.ClinicId }, ct);
            documents = await KnowledgeStore.ListAsync(s, user.ClinicId, ct);
        }
        var csrf = ConsoleLayout.CsrfField(http);
        var f = followUp?.Value;
        var agent = typed?.OutboundAgent ?? f?.OutboundAgent ?? "";
        var agentName = typed?.AgentName ?? f?.AgentName ?? "";
        var template = typed is null ? f?.SmsTemplate : typed.SmsTemplate;
        var voicemail = typed?.FollowUpOnVoicemail ?? f?.FollowUpOnVoicemail ?? false;
        var quietStart = typed is null ? f?.QuietStart : typed.QuietStart;
        var quietEnd = typed is null ? f?.QuietEnd : typed.QuietEnd;
        var v = vapi?.Value;
        var more = await ReceptionSettingsPages.RenderAsync(http, db, csrf, posted, section, ct);

        return ConsoleLayout.Page(http, "Settings", "settings", Html.Of($"""
            <h1>Settings</h1>
            {ConsoleLayout.Problem(problem)}
            <section class="card" aria-labelledby="fu-h" id="followup"><h2 id="fu-h">Follow-up texts</h2>
            <form method="post" action="{ConsoleRoutes.Settings}/followup" class="stack">{csrf}
            <div><label for="agentName">Signed by <span class="hint">The name the text is signed with.</span></label><input id="agentName" name="agentName" type="text" required maxlength="100" value="{agentName}"></div>
            <div><label for="agent">Outbound agent <span class="hint">Who follow-ups are assigned to.</span></label><input id="agent" name="agent" type="text" required maxlength="100" value="{agent}"></div>
            <div><label for="template">Text template <span class="hint">Empty uses the standard text. Placeholders: {string.Join(" ", SmsTemplate.Known)}</span></label><textarea id="template" name="template" maxlength="1600">{template ?? ""}</textarea></div>
            <div><label><input type="checkbox" name="voicemail"{(voicemail ? Html.Constant(" checked") : Html.Empty)}>Follow up after voicemail too</label></div>
            <div class="grid"><div><label for="quietStart">Quiet from <span class="hint">No texts between these times (clinic time); both or neither.</span></label><input id="quietStart" name="quietStart" type="time" value="{quietStart ?? ""}"></div>
            <div><label for="quietEnd">Quiet until</label><input id="quietEnd" name="quietEnd" type="time" value="{quietEnd ?? ""}"></div></div>
            <div><button type="submit">Save follow-up settings</button></div>
            </form>
            </section>

            {more}

            <section class="card" aria-labelledby="proc-h" id="procedures"><h2 id="proc-h">Procedures</h2>
            <p class="muted">What callers ask about, the words they use for it, and the guide the follow-up links to.</p>
            <ul class="items">{(f?.Procedures ?? []).Select((p, i) => Html.Of($"""
                <li><form method="post" action="{ConsoleRoutes.Settings}/procedures" class="stack">{csrf}
                <input type="hidden" name="name" value="{p.Name}">
                <h3>{p.Name}</h3>
                <div><label for="syn-{i}">Also called <span class="hint">Comma-separated.</span></label><input id="syn-{i}" name="synonyms" type="text" maxlength="5000" value="{string.Join(", ", p.Synonyms)}"></div>
                <div><label for="guide-{i}">Guide link</label><input id="guide-{i}" name="guide" type="text" maxlength="500" value="{p.GuidePath ?? ""}"></div>
                <div><label for="min-{i}">Consultation length <span class="hint">Minutes, 5–480: only slots at least this long are offered for it. Empty: any length.</span></label><input id="min-{i}" name="minutes" type="text" inputmode="numeric" maxlength="3" value="{p.ConsultationMinutes?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? ""}"></div>
                <fieldset class="stack"><legend>Who consults for {p.Name}</legend>
                <label><input type="radio" name="who" value="everyone"{(p.PractitionerIds is null ? Html.Constant(" checked") : Html.Empty)}>Every practitioner</label>
                <label><input type="radio" name="who" value="chosen"{(p.PractitionerIds is not null ? Html.Constant(" checked") : Html.Empty)}>Only those ticked (none ticked: nobody)</label>
                {practitioners.Select(pr => Html.Of($"""<label><input type="checkbox" name="practitioner" value="{pr.Id}"{(p.PractitionerIds?.Contains(pr.Id) == true ? Html.Constant(" checked") : Html.Empty)}>{pr.Name}</label>"""))}
                </fieldset>
                <div class="actions"><button type="submit" class="secondary">Save {p.Name}</button></div>
                </form>
                <form method="post" action="{ConsoleRoutes.Settings}/procedures/delete" class="actions">{csrf}<input type="hidden" name="name" value="{p.Name}"><button type="submit" class="danger">Delete {p.Name}</button></form></li>
                """))}</ul>
            <h3>Add a procedure</h3>
            <form method="post" action="{ConsoleRoutes.Settings}/procedures" class="stack">{csrf}
            <div><label for="newProcedure">Name</label><input id="newProcedure" name="name" type="text" required maxlength="100"></div>
            <div><label for="newSynonyms">Also called <span class="hint">Comma-separated.</span></label><input id="newSynonyms" name="synonyms" type="text" maxlength="5000"></div>
            <div><label for="newGuide">Guide link <span class="hint">/guides/… or an https address.</span></label><input id="newGuide" name="guide" type="text" maxlength="500"></div>
            <div><button type="submit">Add procedure</button></div>
            </form>
            </section>

            <section class="card" aria-labelledby="pr-h" id="practitioners"><h2 id="pr-h">Practitioners and calendars</h2>
            <ul class="items">{practitioners.Select(p => Html.Of($"""
                <li><form method="post" action="{ConsoleRoutes.Settings}/calendar" class="stack">{csrf}
                <input type="hidden" name="practitioner" value="{p.Id}">
                <h3>{p.Name}</h3>
                <div><label for="cal-{p.Id}">Google Calendar id <span class="hint">Empty unlinks. Share the calendar with the service account first.</span></label><input id="cal-{p.Id}" name="calendarId" type="text" maxlength="1024" value="{p.CalendarId ?? ""}"></div>
                <div class="actions"><button type="submit" class="secondary">Save calendar of {p.Name}</button></div>
                </form></li>
                """))}</ul>
            <h3>Add a practitioner</h3>
            <form method="post" action="{ConsoleRoutes.Settings}/practitioners" class="stack">{csrf}
            <div><label for="practitionerName">Name</label><input id="practitionerName" name="name" type="text" required maxlength="200"></div>
            <div><button type="submit">Add practitioner</button></div>
            </form>
            </section>

            <section class="card" aria-labelledby="kb-h" id="knowledge"><h2 id="kb-h">Knowledge documents</h2>
            <p class="muted">What the receptionist answers questions from. Uploading a document with an existing source replaces it.</p>
            {(documents.Count == 0 ? Html.Of($"<p class=\"muted\">No documents yet.</p>") : Html.Of($"""
                <div class="scroll"><table><thead><tr><th scope="col">Title</th><th scope="col">Source</th><th scope="col">Passages</th><th scope="col">Updated</th><th scope="col">Actions</th></tr></thead><tbody>
                {documents.Select(d => Html.Of($"""<tr><td>{d.Title}</td><td><code>{d.Source}</code></td><td>{d.Chunks}</td><td>{ConsoleLayout.Local(d.UpdatedAt, user.ClinicTimezone)}</td><td><form method="post" action="{ConsoleRoutes.Settings}/knowledge/{d.Id}/delete">{csrf}<button type="submit" class="danger">Delete {d.Title}</button></form></td></tr>"""))}
                </tbody></table></div>
                """))}
            <h3>Upload or replace a document</h3>
            <form method="post" action="{ConsoleRoutes.Settings}/knowledge" enctype="multipart/form-data" class="stack">{csrf}
            <div><label for="docTitle">Title</label><input id="docTitle" name="title" type="text" required maxlength="300"></div>
            <div><label for="docSource">Source <span class="hint">A stable name, e.g. prices.md; the same source replaces the document.</span></label><input id="docSource" name="source" type="text" required maxlength="500"></div>
            <div><label for="docFile">File <span class="hint">Markdown or text, UTF-8, at most 512 KiB.</span></label><input id="docFile" name="file" type="file" accept=".md,.markdown,.txt,text/plain,text/markdown"></div>
            <div><label for="docContent">Or paste the text</label><textarea id="docContent" name="content" maxlength="524288"></textarea></div>
            <div><button type="submit">Upload document</button></div>
            </form>
            </section>

            <section class="card" aria-labelledby="vapi-h" id="vapi"><h2 id="vapi-h">Vapi</h2>
            <form method="post" action="{ConsoleRoutes.Settings}/vapi" class="stack">{csrf}
            <div><label for="assistantId">Assistant id</label><input id="assistantId" name="assistantId" type="text" maxlength="200" value="{v?.AssistantId ?? ""}"></div>
            <div><label for="phoneNumberId">Phone number id</label><input id="phoneNumberId" name="phoneNumberId" type="text" maxlength="200" value="{v?.PhoneNumberId ?? ""}"></div>
            <div><label for="secret">Server secret <span class="hint">{(v?.SecretSet == true ? "A secret is set; leave empty to keep it." : "No secret is set.")} At least 16 characters.</span></label><input id="secret" name="secret" type="password" autocomplete="new-password" maxlength="200"></div>
            <div><label><input type="checkbox" name="hmac"{(v?.Hmac == true ? Html.Constant(" checked") : Html.Empty)}>Vapi signs its requests (HMAC)</label></div>
            <div><button type="submit">Save Vapi settings</button></div>
            </form>
            </section>
            """), status);
    }

    /// <summary>The API's answer as the console's: success → back to the section; a problem → the
    /// page again with the API's own message.</summary>
    static async Task<IResult> Outcome(IResult result, string section, HttpContext http, Db db, CancellationToken ct, UpdateFollowUp? typed = null) =>
        result is ProblemHttpResult p
            ? await Render(http, db, p.StatusCode, p.ProblemDetails.Detail ?? p.ProblemDetails.Title, typed, ct)
            : TypedResults.Redirect($"{ConsoleRoutes.Settings}?done=saved#{section}");

    static async Task<IResult> SaveFollowUp(HttpContext http, ConsoleForms forms, Db db, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var body = new UpdateFollowUp(form.Text("agent", 100) ?? "", form.Text("agentName", 100) ?? "", form.Text("template", 1600),
            form.Checked("voicemail"), form.Text("quietStart", 5), form.Text("quietEnd", 5));
        return await Outcome((await FollowUpSettingsEndpoints.Update(user.ClinicId, body, http, db, ct)).Result, "followup", http, db, ct, body);
    }

    static async Task<IResult> SaveProcedure(HttpContext http, ConsoleForms forms, Db db, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var synonyms = form.Raw("synonyms").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Where(x => !x.Contains('\0', StringComparison.Ordinal)).ToArray();
        var name = form.Text("name", 200) ?? "";
        // The form does not edit consultation length or practitioners (issue 17): keep what the API set,
        // since the API's PUT replaces every setting of the procedure.
        var current = ((await FollowUpSettingsEndpoints.Get(user.ClinicId, http, db, ct)).Result as Ok<FollowUpSettings>)?.Value?.Procedures
            .FirstOrDefault(p => string.Equals(p.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));
        // A form without the length or the "who" fields (adding a procedure) keeps what is set.
        var minutes = current?.ConsultationMinutes;
        if (form.ContainsKey("minutes"))
        {
            var text = form.Raw("minutes").Trim();
            if (text.Length == 0) minutes = null;
            else if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var m) && text.Length <= 3) minutes = m;
            else return await Render(http, db, 400, "The consultation length is a whole number of minutes (5–480), or empty for any length.", null, ct);
        }
        var practitionerIds = current?.PractitionerIds;
        if (form.Raw("who") is { Length: > 0 } who)
        {
            if (who == "everyone") practitionerIds = null;
            else if (who == "chosen")
            {
                var ids = new List<Guid>();
                foreach (var v in form["practitioner"])
                {
                    if (!Guid.TryParse(v, out var g)) return await Render(http, db, 400, "Choose practitioners from the list.", null, ct);
                    ids.Add(g);
                }
                practitionerIds = [.. ids];
            }
            else return await Render(http, db, 400, "Choose every practitioner, or only those ticked.", null, ct);
        }
        var result = await FollowUpSettingsEndpoints.UpsertProcedureAsync(user.ClinicId, name,
            new UpsertProcedure(synonyms, form.Text("guide", 1000), minutes, practitionerIds), http, db, ct);
        return await Outcome(result.Result, "procedures", http, db, ct);
    }

    static async Task<IResult> DeleteProcedure(HttpContext http, ConsoleForms forms, Db db, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        return await Outcome((await FollowUpSettingsEndpoints.DeleteProcedure(user.ClinicId, form.Text("name", 200) ?? "", http, db, ct)).Result, "procedures", http, db, ct);
    }

    static async Task<IResult> AddPractitioner(HttpContext http, ConsoleForms forms, Db db, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var result = await ClinicEndpoints.CreatePractitioner(user.ClinicId, new CreatePractitioner(form.Text("name", 500) ?? ""), http, db, ct);
        return await Outcome(result.Result, "practitioners", http, db, ct);
    }

    static async Task<IResult> LinkCalendar(HttpContext http, ConsoleForms forms, Db db, CalendarSignal signal, GoogleCalendarClient google, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        if (form.Id("practitioner") is not { } practitionerId) return await Render(http, db, 400, "Choose a practitioner.", null, ct);
        var result = await CalendarEndpoints.Link(user.ClinicId, practitionerId, new Calendar.LinkCalendar(form.Text("calendarId", 2000)), http, db, signal, google, ct);
        return await Outcome(result.Result, "practitioners", http, db, ct);
    }

    static async Task<IResult> SaveDocument(HttpContext http, ConsoleForms forms, Db db, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var content = form.Raw("content");
        if (form.Files.GetFile("file") is { Length: > 0 } file)
        {
            if (file.Length > KnowledgeStore.MaxDocumentBytes)
                return await Render(http, db, 413, $"A document may hold at most {KnowledgeStore.MaxDocumentBytes / 1024} KiB; split it into several.", null, ct);
            using var ms = new MemoryStream();
            await file.CopyToAsync(ms, ct);
            try { content = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(ms.ToArray()); }
            catch (DecoderFallbackException) { return await Render(http, db, 400, "The file is not UTF-8 text: upload Markdown or plain text.", null, ct); }
        }
        var result = await KnowledgeEndpoints.Save(user.ClinicId, new Knowledge.SaveDocument(form.Text("title", 1000) ?? "", form.Text("source", 1000) ?? "", content),
            http, db, ct);
        return await Outcome(result.Result, "knowledge", http, db, ct);
    }

    static async Task<IResult> DeleteDocument(Guid documentId, HttpContext http, ConsoleForms forms, Db db, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is null) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        return await Outcome((await KnowledgeEndpoints.DeleteDocument(user.ClinicId, documentId, http, db, ct)).Result, "knowledge", http, db, ct);
    }

    static async Task<IResult> SaveVapi(HttpContext http, ConsoleForms forms, Db db, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var body = new UpdateVapiSettings(form.Text("assistantId", 1000), form.Text("phoneNumberId", 1000), form.Checked("hmac"),
            form.Text("secret", 1000));
        return await Outcome((await VapiSettingsEndpoints.Update(user.ClinicId, body, http, db, ct)).Result, "vapi", http, db, ct);
    }
}
