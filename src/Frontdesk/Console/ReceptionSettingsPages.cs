using System.Globalization;
using System.Text.Json;
using Frontdesk.BookingPage;
using Frontdesk.Messaging;
using Frontdesk.Reception;
using Frontdesk.Reminders;

namespace Frontdesk.StaffConsole;

/// <summary>
/// Settings sections added with reception, reminders and the SMS guard (admins): opening hours,
/// closures, transfer number and mode, the emergency and consultation wording; reminders; SMS
/// countries and daily quota. Each form is turned into the API's body and handed to the API's own
/// handler (its validation, its audit row, its re-arming); a refusal is the settings page again,
/// 400 with the API's message and the typed values kept.
/// </summary>
public static class ReceptionSettingsPages
{
    public const string Reception = "reception", Reminders = "reminders", Sms = "sms";

    static readonly (string Key, string Label)[] Days =
        [("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"), ("fri", "Friday"), ("sat", "Saturday"), ("sun", "Sunday")];

    public static void Map(RouteGroupBuilder settings)
    {
        settings.MapPost("/reception", SaveReception);
        settings.MapPost("/reminders", SaveReminders);
        settings.MapPost("/sms", SaveSms);
    }

    /// <summary>The three sections; <paramref name="posted"/> (with its <paramref name="section"/>) refills a refused form.</summary>
    public static async Task<Html> RenderAsync(HttpContext http, Db db, Html csrf, IFormCollection? posted, string? section, CancellationToken ct)
    {
        var user = ConsoleUser.Of(http);
        var clock = http.RequestServices.GetRequiredService<TimeProvider>();
        var reception = ((await ReceptionEndpoints.GetSettings(user.ClinicId, http, db, clock, ct)).Result as Ok<ReceptionView>)?.Value;
        var reminders = ((await ReminderSettingsEndpoints.Get(user.ClinicId, http, db, ct)).Result as Ok<ReminderSettings>)?.Value;
        var sms = ((await SmsSettingsEndpoints.Get(user.ClinicId, http, db, http.RequestServices.GetRequiredService<SmsGuard>(), ct)).Result as Ok<SmsSettings>)?.Value;
        string V(string s, string name, string current) => posted is not null && section == s ? posted[name].ToString() : current;

        Html ReceptionSection()
        {
            if (reception is null) return Html.Empty;
            var week = reception.OpeningHours;
            string[][] On(string key) => key switch
            {
                "mon" => week.Mon, "tue" => week.Tue, "wed" => week.Wed, "thu" => week.Thu, "fri" => week.Fri, "sat" => week.Sat, _ => week.Sun,
            };
            var closures = string.Join("\n", reception.Closures.Select(c => c.Date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + (c.Reason is null ? "" : " " + c.Reason)));
            var mode = V(Reception, "transferMode", reception.TransferMode);
            return Html.Of($"""
                <section class="card" aria-labelledby="rc-h" id="reception"><h2 id="rc-h">Reception</h2>
                <p class="muted">When the receptionist may put callers through, and to whom. Times are clinic time ({reception.Timezone});
                {(reception.OpenNow ? "open now" : reception.NextOpening is { } next ? "closed now; opens " + ConsoleLayout.Local(next, user.ClinicTimezone, "ddd d MMM HH:mm") : "closed now")}.</p>
                <form method="post" action="{ConsoleRoutes.Settings}/reception" class="stack">{csrf}
                <fieldset class="stack"><legend>Opening hours <span class="hint">Ranges such as 09:00-13:00, 14:00-18:00; empty: closed all day.</span></legend>
                {Days.Select(d => Html.Of($"""<div><label for="h-{d.Key}">{d.Label}</label><input id="h-{d.Key}" name="{d.Key}" type="text" maxlength="200" value="{V(Reception, d.Key, string.Join(", ", On(d.Key).Select(r => r[0] + "-" + r[1])))}"></div>"""))}
                </fieldset>
                <div><label for="closures">Closures <span class="hint">One a line: the date (YYYY-MM-DD), then the reason if you like.</span></label><textarea id="closures" name="closures" rows="3" maxlength="40000">{V(Reception, "closures", closures)}</textarea></div>
                <div><label for="transferNumber">Transfer number <span class="hint">Who callers are put through to, e.g. +442071234567; empty: nobody (callers get a callback).</span></label><input id="transferNumber" name="transferNumber" type="text" inputmode="tel" maxlength="20" value="{V(Reception, "transferNumber", reception.TransferNumber ?? "")}"></div>
                <div><label for="transferMode">Transfer mode</label><select id="transferMode" name="transferMode">
                <option value="warm"{Sel(mode == ReceptionSettings.Warm)}>Warm: the person answering hears a summary first</option>
                <option value="blind"{Sel(mode == ReceptionSettings.Blind)}>Blind: put straight through</option></select></div>
                <div><label for="emergency">Emergency instruction <span class="hint">Empty uses the standard one: “{(reception.DefaultEmergencyInstruction ? reception.EmergencyInstruction : ReceptionSettings.DefaultEmergencyInstruction(SmsGuard.CountryForTimezone(reception.Timezone)))}”</span></label><textarea id="emergency" name="emergencyInstruction" rows="3" maxlength="{ReceptionSettingsParser.MaxTextChars}">{V(Reception, "emergencyInstruction", reception.DefaultEmergencyInstruction ? "" : reception.EmergencyInstruction)}</textarea></div>
                <div><label for="offer">Consultation offer <span class="hint">What the receptionist says instead of medical advice; empty uses the standard wording.</span></label><textarea id="offer" name="consultationOffer" rows="3" maxlength="{ReceptionSettingsParser.MaxTextChars}">{V(Reception, "consultationOffer", reception.DefaultConsultationOffer ? "" : reception.ConsultationOffer)}</textarea></div>
                <div><button type="submit">Save reception settings</button></div>
                </form>
                </section>
                """);
        }

        Html RemindersSection() => reminders is null ? Html.Empty : Html.Of($"""
            <section class="card" aria-labelledby="rm-h" id="reminders"><h2 id="rm-h">Reminders</h2>
            <form method="post" action="{ConsoleRoutes.Settings}/reminders" class="stack">{csrf}
            <div><label><input type="checkbox" name="enabled"{((posted is not null && section == Reminders ? posted.Checked("enabled") : reminders.Enabled) ? Html.Constant(" checked") : Html.Empty)}>Text patients a reminder before their appointment</label></div>
            <div><label for="offsets">When <span class="hint">Up to {ReminderSettingsEndpoints.MaxOffsets} times before the appointment, comma-separated: P1D is a day, PT2H two hours, P7D a week.</span></label><input id="offsets" name="offsets" type="text" maxlength="200" required value="{V(Reminders, "offsets", string.Join(", ", reminders.Offsets))}"></div>
            <div><label for="reminderTemplate">Text <span class="hint">Empty uses the standard text. Placeholders: {string.Join(" ", ReminderTemplate.Known.Select(k => "{{" + k + "}}"))}</span></label><textarea id="reminderTemplate" name="template" maxlength="1600">{V(Reminders, "template", reminders.Custom ? reminders.Template : "")}</textarea></div>
            <div><button type="submit">Save reminders</button></div>
            </form>
            </section>
            """);

        Html SmsSection() => sms is null ? Html.Empty : Html.Of($"""
            <section class="card" aria-labelledby="sms-h" id="sms"><h2 id="sms-h">Text messages</h2>
            <p class="muted">{sms.SentToday} sent today of {sms.DailyQuota}; the count starts again at {ConsoleLayout.Local(sms.QuotaResetsAt, user.ClinicTimezone, "HH:mm")}.</p>
            <form method="post" action="{ConsoleRoutes.Settings}/sms" class="stack">{csrf}
            <div><label for="countries">Countries texts may go to <span class="hint">Two-letter codes, comma-separated (GB, IE); empty: the clinic's own country{(sms.DefaultCountries ? $" ({string.Join(", ", sms.AllowedCountries)})" : "")}.</span></label><input id="countries" name="countries" type="text" maxlength="1000" value="{V(Sms, "countries", sms.DefaultCountries ? "" : string.Join(", ", sms.AllowedCountries))}"></div>
            <div><label for="quota">Texts a day at most <span class="hint">0 to {SmsSettingsEndpoints.MaxDailyQuota}; empty: {SmsGuard.DefaultDailyQuota}.</span></label><input id="quota" name="quota" type="text" inputmode="numeric" maxlength="6" value="{V(Sms, "quota", sms.DailyQuota.ToString(CultureInfo.InvariantCulture))}"></div>
            <div><button type="submit">Save text message limits</button></div>
            </form>
            </section>
            """);

        return Html.Of($"{ReceptionSection()}{RemindersSection()}{SmsSection()}");
    }

    static Html Sel(bool selected) => selected ? Html.Constant(" selected") : Html.Empty;

    static string? Optional(IFormCollection form, string name) => form[name].ToString().Trim() is { Length: > 0 } v ? v : null;

    /// <summary>The form as the API's body: the week as <c>{"mon": [["09:00","13:00"], …]}</c>, closures as
    /// <c>[{"date", "reason"}]</c>; what the form cannot say as JSON is a problem here, the rest the API judges.</summary>
    public static (UpdateReception? Body, string? Problem) ReceptionBody(IFormCollection form)
    {
        var hours = new Dictionary<string, string[][]>(StringComparer.Ordinal);
        foreach (var (key, label) in Days)
        {
            var ranges = new List<string[]>();
            foreach (var part in form[key].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var ends = part.Split(['-', '–'], StringSplitOptions.TrimEntries);
                if (ends.Length != 2) return (null, $"{label}: write each range as a start and an end, such as 09:00-13:00.");
                ranges.Add(ends);
            }
            hours[key] = [.. ranges];
        }
        var closures = new List<Dictionary<string, string?>>();
        foreach (var line in form["closures"].ToString().Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            closures.Add(new() { ["date"] = space < 0 ? line : line[..space], ["reason"] = space < 0 ? null : line[(space + 1)..].Trim() });
        }
        return (new UpdateReception(JsonSerializer.SerializeToElement(hours), JsonSerializer.SerializeToElement(closures), Optional(form, "transferNumber"),
            Optional(form, "transferMode"), Optional(form, "emergencyInstruction"), Optional(form, "consultationOffer")), null);
    }

    static async Task<IResult> SaveReception(HttpContext http, ConsoleForms forms, Db db, TimeProvider clock, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var (body, problem) = ReceptionBody(form);
        if (body is null) return await SettingsPages.Refuse(http, db, 400, problem!, form, Reception, ct);
        var user = ConsoleUser.Of(http);
        return await Outcome((await ReceptionEndpoints.PutSettings(user.ClinicId, body, http, db, clock, ct)).Result, Reception, http, db, form, ct);
    }

    static async Task<IResult> SaveReminders(HttpContext http, ConsoleForms forms, Db db, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        var offsets = form["offsets"].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var template = form["template"].ToString().Trim() is { Length: > 0 } t ? t.ReplaceLineEndings("\n") : null;
        var body = new UpdateReminderSettings(form.Checked("enabled"), offsets, template);
        return await Outcome((await ReminderSettingsEndpoints.Update(user.ClinicId, body, http, db, ct)).Result, Reminders, http, db, form, ct);
    }

    static async Task<IResult> SaveSms(HttpContext http, ConsoleForms forms, Db db, SmsGuard guard, CancellationToken ct)
    {
        if (await forms.ReadAsync(http, ct) is not { } form) return ConsoleForms.Refused(http);
        var user = ConsoleUser.Of(http);
        int? quota = null;
        if (Optional(form, "quota") is { } q)
        {
            if (!int.TryParse(q, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                return await SettingsPages.Refuse(http, db, 400, $"Texts a day is a whole number from 0 to {SmsSettingsEndpoints.MaxDailyQuota}.", form, Sms, ct);
            quota = n;
        }
        var countries = Optional(form, "countries")?.Split([',', ' '], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var result = await SmsSettingsEndpoints.Update(user.ClinicId, new UpdateSmsSettings(countries, quota), http, db, guard, ct);
        return await Outcome(result.Result, Sms, http, db, form, ct);
    }

    static async Task<IResult> Outcome(IResult result, string section, HttpContext http, Db db, IFormCollection form, CancellationToken ct) =>
        result is ProblemHttpResult p
            ? await SettingsPages.Refuse(http, db, p.StatusCode, p.ProblemDetails.Detail ?? p.ProblemDetails.Title ?? "Refused.", form, section, ct)
            : TypedResults.Redirect($"{ConsoleRoutes.Settings}?done=saved#{section}");
}
