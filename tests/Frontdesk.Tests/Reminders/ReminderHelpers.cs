using System.Net.Http.Json;
using Frontdesk.Tests.Infrastructure;
using Npgsql;

namespace Frontdesk.Tests.Reminders;

/// <summary>One reminder row as the database holds it.</summary>
public sealed record ReminderRow(string Offset, DateTimeOffset StartsAt, DateTimeOffset SendAt, string Status, Guid? MessageId, string? SkipReason);

/// <summary>Clinics, patients and bookings for the reminder tests, and clock control: rather than wait,
/// a test moves a booking and its reminders back in time together (triggers off for that statement,
/// as if the time had passed).</summary>
static class ReminderHelpers
{
    /// <summary>A clinic with <paramref name="slots"/> half-hour slots from <paramref name="firstSlot"/> (default: next
    /// weekday 09:00 UTC a week ahead) and one patient with a UK mobile number.</summary>
    public static async Task<(TestClinic Clinic, Guid PatientId, string Phone)> ClinicAsync(DateTimeOffset? firstSlot = null, int slots = 4,
        string? smsFrom = null, string patientName = "Jane Doe")
    {
        var clinic = await TestClinic.CreateAsync(slots: slots, patients: 0, firstSlot: firstSlot);
        if (smsFrom is not null) await TestApp.ExecAsync("update clinics set sms_from = $1 where id = $2", smsFrom, clinic.Id);
        var phone = NewPhone();
        var patient = await PatientAsync(clinic.Id, phone, patientName);
        return (clinic, patient, phone);
    }

    /// <summary>A request's offsets (a params array: not a constant array argument).</summary>
    public static string[] Offsets(params string[] offsets) => offsets;

    public static string NewPhone() => "+44790" + Random.Shared.Next(1000000, 9999999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static async Task<Guid> PatientAsync(Guid clinicId, string phone, string name = "Jane Doe")
    {
        using var svc = TestApp.Service();
        return (await TestClinic.Json(await svc.PostAsJsonAsync($"/api/clinics/{clinicId}/patients", new { name, phone }))).GetProperty("id").GetGuid();
    }

    /// <summary>Books through the seed's REST function (source api).</summary>
    public static async Task<Guid> BookAsync(Guid clinicId, Guid slotId, Guid patientId, HttpClient? client = null)
    {
        using var own = client is null ? TestApp.As(clinicId) : null;
        var r = await TestClinic.Json(await (client ?? own!).PostAsJsonAsync("/functions/v1/claim_slot_atomic",
            new { slotId, patientId, clinicId }));
        return r.GetProperty("bookingId").GetGuid();
    }

    public static async Task<IReadOnlyList<ReminderRow>> RemindersAsync(Guid bookingId)
    {
        await using var c = await TestApp.AdminConnectionAsync();
        await using var cmd = new NpgsqlCommand("""
            select remind_offset, starts_at, send_at, status, message_id, skip_reason from booking_reminders
            where booking_id = $1 order by starts_at, remind_offset desc
            """, c);
        cmd.Parameters.Add(new NpgsqlParameter { Value = bookingId });
        var rows = new List<ReminderRow>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            rows.Add(new ReminderRow(Frontdesk.Reminders.IsoDuration.Format(reader.GetFieldValue<TimeSpan>(0)), reader.GetFieldValue<DateTimeOffset>(1),
                reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetGuid(4),
                reader.IsDBNull(5) ? null : reader.GetString(5)));
        return rows;
    }

    public static async Task<IReadOnlyList<ReminderRow>> ArmedAsync(Guid bookingId) =>
        (await RemindersAsync(bookingId)).Where(r => r.Status == "armed").ToList();

    /// <summary>Makes one armed reminder due now (its send time backdated; nothing else changes).</summary>
    public static Task<int> DueNowAsync(Guid bookingId, TimeSpan offset, TimeSpan? inFuture = null) =>
        TestApp.ExecAsync("update booking_reminders set send_at = now() + $3 where booking_id = $1 and remind_offset = $2 and status = 'armed'",
            bookingId, offset, inFuture ?? TimeSpan.Zero);

    /// <summary>As if <paramref name="by"/> had passed for this booking: its slot, its times and its reminders'
    /// times move that much earlier, without the triggers that would treat it as a move.</summary>
    public static async Task TimePassesAsync(Guid bookingId, TimeSpan by)
    {
        await using var c = await TestApp.AdminConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        foreach (var sql in new[]
                 {
                     "set local session_replication_role = replica",
                     "update calendar_slots s set starts_at = s.starts_at - $2, ends_at = s.ends_at - $2 from bookings b where b.id = $1 and s.id = b.slot_id",
                     "update bookings set starts_at = starts_at - $2, ends_at = ends_at - $2 where id = $1",
                     "update booking_reminders set starts_at = starts_at - $2, send_at = send_at - $2 where booking_id = $1",
                 })
        {
            await using var cmd = new NpgsqlCommand(sql, c, tx);
            if (sql.Contains("$1", StringComparison.Ordinal)) cmd.Parameters.Add(new NpgsqlParameter { Value = bookingId });
            if (sql.Contains("$2", StringComparison.Ordinal)) cmd.Parameters.Add(new NpgsqlParameter { Value = by });
            await cmd.ExecuteNonQueryAsync();
        }
        await tx.CommitAsync();
    }

    /// <summary>Changes a clinic's quiet hours without re-arming (as if they had been set after the reminder was queued).</summary>
    public static async Task QuietHoursWithoutRearmingAsync(Guid clinicId, TimeOnly start, TimeOnly end)
    {
        await using var c = await TestApp.AdminConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        await using (var off = new NpgsqlCommand("set local session_replication_role = replica", c, tx)) await off.ExecuteNonQueryAsync();
        await using (var cmd = new NpgsqlCommand("update clinics set quiet_start = $1, quiet_end = $2 where id = $3", c, tx))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = start });
            cmd.Parameters.Add(new NpgsqlParameter { Value = end });
            cmd.Parameters.Add(new NpgsqlParameter { Value = clinicId });
            await cmd.ExecuteNonQueryAsync();
        }
        await tx.CommitAsync();
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, int seconds = 15)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException("condition not met in time");
            await Task.Delay(100);
        }
    }

    /// <summary>"Tuesday 3 March at 10:30" in the clinic's zone, as texts say it.</summary>
    public static string Spoken(DateTimeOffset at, string timezone = "Europe/London") =>
        Frontdesk.Platform.ClinicTime.Spoken(at, TimeZoneInfo.FindSystemTimeZoneById(timezone));
}
