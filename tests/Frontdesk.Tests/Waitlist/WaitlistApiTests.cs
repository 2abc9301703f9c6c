using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Frontdesk.Tests.Privacy;
using static Frontdesk.Tests.Manage.PatientScenario;

namespace Frontdesk.Tests.Waitlist;

/// <summary>The staff API: POST/GET/DELETE /api/clinics/{clinicId}/waitlist (issue 18, API.md "Between calls").</summary>
public class WaitlistApiTests
{
    static async Task<JsonElement> ProblemAsync(HttpResponseMessage r, HttpStatusCode status, string type, string? what = null)
    {
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == status, $"{what}: expected {(int)status}, got {(int)r.StatusCode} {body}");
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var p = JsonDocument.Parse(body).RootElement;
        Assert.Equal(type, p.GetProperty("type").GetString());
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        return p;
    }

    static Task<long> StoredAsync(Guid clinicId) => TestApp.ScalarAsync<long>("""
        select (select count(*) from waitlist_entries where clinic_id = $1)
             + (select count(*) from outbox where clinic_id = $1 and kind like 'waitlist%')
             + (select count(*) from audit_trail where clinic_id = $1 and entity = 'waitlist_entry')
        """, clinicId);

    [Fact]
    public async Task Staff_add_list_and_remove_entries_and_every_change_is_audited()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (patient, _) = await PatientAsync(clinic);
        using var reception = TestApp.As(clinic.Id, "receptionist");

        var first = DateOnly.FromDateTime(DateTime.UtcNow.AddDays(40));
        string Day(DateOnly d) => d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var r = await reception.PostAsJsonAsync($"/api/clinics/{clinic.Id}/waitlist", new
        {
            patientId = patient, procedure = "nose job", practitionerId = clinic.PractitionerId, from = Day(first), to = Day(first.AddDays(2)), partOfDay = "Morning",
        });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        var id = (await TestClinic.Json(r)).GetProperty("id").GetGuid();
        Assert.Equal($"/api/clinics/{clinic.Id}/waitlist/{id}", r.Headers.Location!.OriginalString);

        using var doctor = TestApp.As(clinic.Id, "doctor");
        var entry = Assert.Single((await TestClinic.Json(await doctor.GetAsync($"/api/clinics/{clinic.Id}/waitlist"))).EnumerateArray());
        Assert.Equal(id, entry.GetProperty("id").GetGuid());
        Assert.Equal(patient, entry.GetProperty("patientId").GetGuid());
        Assert.Equal("Rhinoplasty", entry.GetProperty("procedure").GetString());   // a synonym names the catalog's procedure
        Assert.Equal(clinic.PractitionerId, entry.GetProperty("practitionerId").GetGuid());
        Assert.Equal("morning", entry.GetProperty("partOfDay").GetString());
        Assert.Equal("waiting", entry.GetProperty("status").GetString());
        Assert.Equal("staff", entry.GetProperty("source").GetString());
        Assert.Equal(JsonValueKind.Null, entry.GetProperty("offer").ValueKind);
        // Dates are the clinic's days (midnight in London), "to" inclusive; the entry expires at its end.
        var london = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");
        DateTimeOffset Midnight(DateOnly d) => new(d.ToDateTime(TimeOnly.MinValue), london.GetUtcOffset(d.ToDateTime(TimeOnly.MinValue)));
        Assert.Equal(Midnight(first), entry.GetProperty("from").GetDateTimeOffset());
        Assert.Equal(Midnight(first.AddDays(3)), entry.GetProperty("to").GetDateTimeOffset());
        Assert.Equal(Midnight(first.AddDays(3)), entry.GetProperty("expiresAt").GetDateTimeOffset());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("""
            select count(*) from outbox where clinic_id = $1 and kind = 'waitlist_expiry' and payload->>'EntryId' = $2 and next_attempt_at = $3
            """, clinic.Id, id.ToString(), Midnight(first.AddDays(3)).UtcDateTime));

        // The same wish again is the same entry.
        var again = await reception.PostAsJsonAsync($"/api/clinics/{clinic.Id}/waitlist", new
        {
            patientId = patient, procedure = "Rhinoplasty", practitionerId = clinic.PractitionerId, from = Day(first), to = Day(first.AddDays(2)), partOfDay = "morning",
        });
        Assert.Equal(id, (await TestClinic.Json(again)).GetProperty("id").GetGuid());
        Assert.Equal(1L, await TestApp.ScalarAsync<long>("select count(*) from waitlist_entries where clinic_id = $1", clinic.Id));

        Assert.Equal(HttpStatusCode.NoContent, (await reception.DeleteAsync($"/api/clinics/{clinic.Id}/waitlist/{id}")).StatusCode);
        Assert.Empty((await TestClinic.Json(await doctor.GetAsync($"/api/clinics/{clinic.Id}/waitlist"))).EnumerateArray());
        await ProblemAsync(await reception.DeleteAsync($"/api/clinics/{clinic.Id}/waitlist/{id}"), HttpStatusCode.NotFound, Problems.NotFound);
        Assert.Equal("created,removed", await TestApp.ScalarAsync<string>(
            "select string_agg(action, ',' order by id) from audit_trail where clinic_id = $1 and entity = 'waitlist_entry' and entity_id = $2", clinic.Id, id.ToString()));
    }

    [Fact]
    public async Task A_bare_entry_waits_for_any_time_for_the_default_thirty_days_and_an_instant_window_is_kept_as_given()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (patient, _) = await PatientAsync(clinic);
        using var admin = TestApp.As(clinic.Id);
        var bare = await WaitlistKit.JoinAsync(admin, clinic.Id, new { patientId = patient });
        Assert.True(await TestApp.ScalarAsync<bool>("""
            select from_at is null and to_at is null and procedure_id is null and practitioner_id is null and part_of_day is null
               and expires_at between now() + interval '29 days 23 hours' and now() + interval '30 days 1 minute'
            from waitlist_entries where id = $1
            """, bare));
        var day = DateTime.UtcNow.AddDays(20).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var at = await WaitlistKit.JoinAsync(admin, clinic.Id, new { patientId = patient, from = day + "T14:00:00+01:00", to = day + "T18:30:00Z" });
        Assert.Equal($"{day} 13:00|{day} 18:30", await TestApp.ScalarAsync<string>(
            "select to_char(from_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') || '|' || to_char(to_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') from waitlist_entries where id = $1", at));
    }

    [Fact]
    public async Task Bad_bodies_get_4xx_problems_and_store_nothing()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (patient, _) = await PatientAsync(clinic);
        var (erased, _) = await PatientAsync(clinic, "Erased Patient");
        var (optedOut, optedOutPhone) = await PatientAsync(clinic, "Opted Out");
        await CallerHashes.OptOutAsync(clinic.Id, optedOutPhone);
        using var admin = TestApp.As(clinic.Id);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/patients/{clinic.Id}/{erased}")).StatusCode);
        var other = await TestClinic.CreateAsync(slots: 0, patients: 1);
        var before = await StoredAsync(clinic.Id);
        var url = $"/api/clinics/{clinic.Id}/waitlist";
        var past = DateTimeOffset.UtcNow.AddDays(-2).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var soon = DateTimeOffset.UtcNow.AddDays(10).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var later = DateTimeOffset.UtcNow.AddDays(12).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

        (object Body, HttpStatusCode Status, string Type)[] cases =
        [
            (new { }, HttpStatusCode.BadRequest, Problems.MalformedRequest),                                   // patientId missing
            (new { patientId = Guid.Empty }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = "not-a-uuid" }, HttpStatusCode.BadRequest, Problems.MalformedRequest),
            (new { patientId = patient, partOfDay = "night" }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, partOfDay = "" }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, procedure = "tattoo removal" }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, procedure = "" }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, procedure = new string('r', 101) }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, procedure = "Rhino\0plasty" }, HttpStatusCode.BadRequest, Problems.MalformedRequest),   // NUL: refused at binding
            (new { patientId = patient, procedure = 42 }, HttpStatusCode.BadRequest, Problems.MalformedRequest),
            (new { patientId = patient, from = "next tuesday" }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, from = "2030-13-01" }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, from = soon + "T10:00:00" }, HttpStatusCode.BadRequest, Problems.Validation),   // no offset
            (new { patientId = patient, to = soon, from = later }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, to = past }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, from = "2099-01-01" }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, to = new string('9', 50) }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, to = "9999-12-31" }, HttpStatusCode.BadRequest, Problems.Validation),          // the day after runs off the calendar
            (new { patientId = patient, to = "9999-12-31T23:59:59Z" }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, from = "0001-01-01T00:00:00+14:00" }, HttpStatusCode.BadRequest, Problems.Validation),
            (new { patientId = patient, practitionerId = Guid.NewGuid() }, HttpStatusCode.NotFound, Problems.NotFound),
            (new { patientId = patient, practitionerId = other.PractitionerId }, HttpStatusCode.NotFound, Problems.NotFound),
            (new { patientId = Guid.NewGuid() }, HttpStatusCode.NotFound, Problems.NotFound),
            (new { patientId = other.PatientIds[0] }, HttpStatusCode.NotFound, Problems.NotFound),
            (new { patientId = erased }, HttpStatusCode.NotFound, Problems.NotFound),
            (new { patientId = optedOut }, HttpStatusCode.Conflict, Problems.Conflict),
        ];
        foreach (var (body, status, type) in cases)
            await ProblemAsync(await admin.PostAsJsonAsync(url, body), status, type, JsonSerializer.Serialize(body));
        foreach (var raw in new[] { "", "{", "[]", "null", "{\"patientId\": \"" + patient + "\", \"from\": 5}" })
            await ProblemAsync(await admin.PostAsync(url, new StringContent(raw, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, Problems.MalformedRequest, raw);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await admin.PostAsync(url, new StringContent($"patientId={patient}", Encoding.UTF8, "text/plain"))).StatusCode);
        await ProblemAsync(await admin.DeleteAsync($"{url}/not-a-uuid"), HttpStatusCode.BadRequest, Problems.MalformedRequest);
        await ProblemAsync(await admin.DeleteAsync($"{url}/{Guid.NewGuid()}"), HttpStatusCode.NotFound, Problems.NotFound);

        Assert.Equal(before, await StoredAsync(clinic.Id));
    }

    [Fact]
    public async Task Only_admins_receptionists_and_service_role_add_or_remove_entries_while_any_member_reads_them()
    {
        var clinic = await TestClinic.CreateAsync(slots: 0, patients: 0);
        var (patient, _) = await PatientAsync(clinic);
        var url = $"/api/clinics/{clinic.Id}/waitlist";
        using var admin = TestApp.As(clinic.Id, "admin");
        var id = await WaitlistKit.JoinAsync(admin, clinic.Id, new { patientId = patient });
        var before = await StoredAsync(clinic.Id);

        foreach (var role in new[] { "doctor", "Admin", "" })
        {
            using var c = TestApp.As(clinic.Id, role);
            await ProblemAsync(await c.PostAsJsonAsync(url, new { patientId = patient, partOfDay = "evening" }), HttpStatusCode.Forbidden, Problems.Forbidden, role);
            await ProblemAsync(await c.DeleteAsync($"{url}/{id}"), HttpStatusCode.Forbidden, Problems.Forbidden, role);
            Assert.Equal(HttpStatusCode.OK, (await c.GetAsync(url)).StatusCode);
        }
        Assert.Equal(before, await StoredAsync(clinic.Id));
        using var anonymous = TestApp.Client(null);
        await ProblemAsync(await anonymous.GetAsync(url), HttpStatusCode.Unauthorized, Problems.Unauthorized);

        using var svc = TestApp.Service();
        Assert.Equal(HttpStatusCode.Created, (await svc.PostAsJsonAsync(url, new { patientId = patient, partOfDay = "evening" })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await svc.DeleteAsync($"{url}/{id}")).StatusCode);
    }

    [Fact]
    public async Task An_entry_expires_at_its_latest_date_by_its_own_job_and_is_never_offered_after()
    {
        var clinic = await TestClinic.CreateAsync(slots: 1, patients: 0);
        var (patient, _) = await PatientAsync(clinic);
        var (other, _) = await PatientAsync(clinic, "Booked Patient");
        var booking = await BookAsync(clinic, other, clinic.SlotIds[0]);
        using var admin = TestApp.As(clinic.Id);
        var tomorrow = DateTimeOffset.UtcNow.AddDays(2).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var id = await WaitlistKit.JoinAsync(admin, clinic.Id, new { patientId = patient, to = tomorrow });

        // The clock jumps past the latest date: the entry's row and its expiry job as they would stand then.
        await TestApp.ExecAsync("update waitlist_entries set expires_at = now() - interval '1 second', to_at = now() - interval '1 second' where id = $1", id);
        var listed = Assert.Single((await TestClinic.Json(await admin.GetAsync($"/api/clinics/{clinic.Id}/waitlist"))).EnumerateArray());
        Assert.Equal("expired", listed.GetProperty("status").GetString());   // read as expired at once
        await TestApp.ExecAsync("update outbox set next_attempt_at = now() where clinic_id = $1 and kind = 'waitlist_expiry'", clinic.Id);
        await EventuallyAsync(async () => await TestApp.ScalarAsync<string>("select status from waitlist_entries where id = $1", id) == "expired", "the expiry job");
        Assert.NotNull(await TestApp.ScalarAsync<DateTime?>("select closed_at from waitlist_entries where id = $1", id));
        Assert.Equal(1L, await TestApp.ScalarAsync<long>(
            "select count(*) from audit_trail where clinic_id = $1 and action = 'expired' and entity_id = $2", clinic.Id, id.ToString()));
        // With nobody waiting any more, a freed slot schedules nothing.
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/bookings/{clinic.Id}/{booking}")).StatusCode);
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from outbox where clinic_id = $1 and kind = 'waitlist_slot'", clinic.Id));
    }
}
