using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Frontdesk.Calendar;

/// <summary>
/// Reads a linked calendar back into the slot engine: events.list (incremental with syncToken; on
/// 410 a full resync, Google's documented rule) keeps a mirror that recognises Frontdesk's own
/// events, and freeBusy decides which slots are busy. A calendar Google cannot answer for is
/// "unknown", never "free": its slots keep their last known state.
/// </summary>
public sealed partial class CalendarSync(Db db, GoogleCalendarClient google, CalendarOptions options, FrontdeskOptions app, ILogger<CalendarSync> log)
{
    static readonly RequestClaims Worker = RequestClaims.AsSystem(SystemPath.Worker);

    public sealed record Target(Guid ClinicId, Guid PractitionerId, string CalendarId, string? SyncToken,
        string? ChannelId, string? ChannelResourceId, DateTimeOffset? ChannelExpiresAt, string Timezone, DateTimeOffset? LockedUntil = null);

    const string Returning = """
        returning s.clinic_id, s.practitioner_id, s.calendar_id, s.sync_token, s.channel_id, s.channel_resource_id,
                  s.channel_expires_at, (select timezone from clinics c where c.id = s.clinic_id), s.locked_until
        """;

    TimeSpan Lease => TimeSpan.FromSeconds(Math.Max(120, options.TimeoutSeconds * 20));

    /// <summary>Syncs up to <paramref name="limit"/> calendars whose time has come (periodic or
    /// pushed); returns how many it took.</summary>
    public async Task<int> RunDueAsync(int limit, CancellationToken ct)
    {
        var due = await db.QueryOnceAsync<Target>(Worker, $"""
            with due as (
              select clinic_id, practitioner_id from calendar_syncs
               where next_sync_at <= now() and (locked_until is null or locked_until < now())
               order by next_sync_at limit @Limit
               for update skip locked)
            update calendar_syncs s set locked_until = now() + make_interval(secs => @Lease), last_attempt_at = now()
              from due where s.clinic_id = due.clinic_id and s.practitioner_id = due.practitioner_id
            {Returning}
            """, new { Limit = limit, Lease = Lease.TotalSeconds }, ct);
        // Released on a stop only while the lease is still ours (same locked_until).
        await ClaimedBatch.RunAsync(due, t => SyncAsync(Worker, t, ct), rest => db.QueryOnceAsync<int>(Worker, """
            update calendar_syncs set locked_until = null
             where clinic_id = any(@Clinics) and practitioner_id = any(@Practitioners) and locked_until = @Until
            returning 1
            """, new
        {
            Clinics = rest.Select(t => t.ClinicId).ToArray(),
            Practitioners = rest.Select(t => t.PractitionerId).ToArray(),
            Until = rest[0].LockedUntil,
        }, CancellationToken.None), ct);
        return due.Count;
    }

    /// <summary>Takes the calendar's lease for an on-demand sync, waiting up to <paramref name="wait"/>
    /// for a sync already running; null when the practitioner has no linked calendar.</summary>
    public async Task<Target?> LeaseAsync(RequestClaims claims, Guid clinicId, Guid practitionerId, TimeSpan wait, CancellationToken ct)
    {
        var until = DateTime.UtcNow + wait;
        while (true)
        {
            var rows = await db.QueryOnceAsync<Target>(claims, $"""
                update calendar_syncs s set locked_until = now() + make_interval(secs => @Lease), last_attempt_at = now()
                 where s.clinic_id = @ClinicId and s.practitioner_id = @PractitionerId
                   and (s.locked_until is null or s.locked_until < now())
                {Returning}
                """, new { ClinicId = clinicId, PractitionerId = practitionerId, Lease = Lease.TotalSeconds }, ct);
            if (rows is [var t]) return t;
            var exists = await db.QueryOnceAsync<bool>(claims,
                "select true from calendar_syncs where clinic_id = @ClinicId and practitioner_id = @PractitionerId",
                new { ClinicId = clinicId, PractitionerId = practitionerId }, ct);
            if (exists.Count == 0 || DateTime.UtcNow > until) return exists.Count == 0 ? null : throw new TimeoutException("A sync of this calendar is still running.");
            await Task.Delay(100, ct);
        }
    }

    /// <summary>One sync of one calendar; releases the lease and records the outcome.</summary>
    public async Task SyncAsync(RequestClaims claims, Target t, CancellationToken ct)
    {
        string state = "unknown";
        string? error = null;
        string? syncToken = t.SyncToken;
        try
        {
            (syncToken, var listError) = await SyncEventsAsync(claims, t, ct);
            (state, error) = await SyncBusyAsync(claims, t, ct);
            error ??= listError;
            if (state == "ok") await EnsureChannelAsync(claims, t, ct);
        }
        catch (GoogleUnavailableException e)
        {
            state = "unknown";
            error = e.Message;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Shutting down: release the lease so another instance syncs this calendar soon.
            await db.QueryOnceAsync<int>(claims,
                "update calendar_syncs set locked_until = null where clinic_id = @ClinicId and practitioner_id = @PractitionerId returning 1",
                new { t.ClinicId, t.PractitionerId }, CancellationToken.None);
            throw;
        }
        if (state != "ok") Log.Unknown(log, t.ClinicId, t.PractitionerId);
        var next = state == "ok" ? TimeSpan.FromSeconds(options.SyncSeconds) : options.Backoff(2);
        // Conditional on calendar_id: a relink during the sync must not inherit this sync's token.
        await db.QueryOnceAsync<int>(claims, """
            update calendar_syncs
               set state = @State, last_error = @Error, sync_token = @SyncToken, locked_until = null,
                   last_synced_at = case when @State = 'ok' then now() else last_synced_at end,
                   -- A push notification that arrived during this sync asks for another one right away.
                   next_sync_at = case when sync_requested_at >= last_attempt_at then now()
                                       else now() + make_interval(secs => @Next) end
             where clinic_id = @ClinicId and practitioner_id = @PractitionerId and calendar_id = @CalendarId
            returning 1
            """, new { State = state, Error = error, SyncToken = syncToken, Next = next.TotalSeconds, t.ClinicId, t.PractitionerId, t.CalendarId }, ct);
    }

    /// <summary>events.list into the mirror. Returns the next sync token and a non-fatal error (a
    /// calendar shared as free/busy only cannot be listed; freeBusy still works for it).</summary>
    async Task<(string? SyncToken, string? Error)> SyncEventsAsync(RequestClaims claims, Target t, CancellationToken ct)
    {
        var token = t.SyncToken;
        var full = token is null;
        var items = new List<JsonElement>();
        string? pageToken = null;
        while (true)
        {
            var r = await google.ListEventsAsync(t.CalendarId, full ? null : token, pageToken, ct);
            if (r.Status == 410 && !full)
            {
                // Sync token expired or invalidated: wipe the mirror and list everything again.
                Log.FullResync(log, t.ClinicId, t.PractitionerId);
                full = true;
                items.Clear();
                pageToken = null;
                continue;
            }
            if (!r.Ok)
            {
                if (r.Transient) throw new GoogleUnavailableException(r.Describe());
                return (t.SyncToken, "events.list: " + r.Describe());
            }
            if (r.Body.TryGetProperty("items", out var page))
                items.AddRange(page.EnumerateArray());
            if (r.Body.TryGetProperty("nextPageToken", out var next) && next.GetString() is { Length: > 0 } np) { pageToken = np; continue; }
            token = r.Body.TryGetProperty("nextSyncToken", out var st) ? st.GetString() : null;
            break;
        }

        var zone = ClinicTime.Zone(t.Timezone);
        var upserts = new JsonArray();
        var deletes = new List<string>();
        foreach (var e in items)
        {
            var id = e.GetProperty("id").GetString()!;
            if (e.TryGetProperty("status", out var s) && s.GetString() == "cancelled" || e.TryGetProperty("recurrence", out _)
                || !TryTime(e, "start", zone, out var start) || !TryTime(e, "end", zone, out var end) || end <= start)
            {
                // Deleted, or recurring (freeBusy covers recurring instances), or unreadable: not in the mirror.
                deletes.Add(id);
                continue;
            }
            string? booking = e.TryGetProperty("extendedProperties", out var xp) && xp.TryGetProperty("private", out var pr)
                              && pr.TryGetProperty("frontdeskBookingId", out var b) && Guid.TryParse(b.GetString(), out var g) ? g.ToString() : null;
            upserts.Add(new JsonObject
            {
                ["id"] = id, ["s"] = start.ToString("O"), ["e"] = end.ToString("O"),
                ["t"] = e.TryGetProperty("transparency", out var tr) && tr.GetString() == "transparent",
                ["b"] = booking,
            });
        }

        await db.InTransactionAsync(claims, async s =>
        {
            var args = new { t.ClinicId, t.PractitionerId, Ids = deletes.ToArray(), Items = upserts.ToJsonString() };
            if (full)
                await s.ExecuteAsync("delete from calendar_events where clinic_id = @ClinicId and practitioner_id = @PractitionerId", args, ct);
            else if (deletes.Count > 0)
                await s.ExecuteAsync("delete from calendar_events where clinic_id = @ClinicId and practitioner_id = @PractitionerId and event_id = any(@Ids)", args, ct);
            if (upserts.Count > 0)
                await s.ExecuteAsync("""
                    insert into calendar_events (clinic_id, practitioner_id, event_id, starts_at, ends_at, transparent, booking_id)
                    select @ClinicId, @PractitionerId, x.id, x.s, x.e, x.t, x.b
                      from jsonb_to_recordset(@Items::jsonb) as x(id text, s timestamptz, e timestamptz, t boolean, b uuid)
                    on conflict (clinic_id, practitioner_id, event_id) do update
                       set starts_at = excluded.starts_at, ends_at = excluded.ends_at,
                           transparent = excluded.transparent, booking_id = excluded.booking_id
                    """, args, ct);
            return 0;
        }, ct);
        return (token, null);
    }

    static bool TryTime(JsonElement e, string name, TimeZoneInfo zone, out DateTimeOffset at)
    {
        at = default;
        if (!e.TryGetProperty(name, out var p)) return false;
        if (p.TryGetProperty("dateTime", out var dt))
            return DateTimeOffset.TryParse(dt.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.None, out at);
        if (p.TryGetProperty("date", out var d) && DateOnly.TryParse(d.GetString(), CultureInfo.InvariantCulture, out var day))
        {
            // All-day events: midnight in the clinic's zone.
            var local = day.ToDateTime(TimeOnly.MinValue);
            at = new DateTimeOffset(local, zone.GetUtcOffset(local));
            return true;
        }
        return false;
    }

    /// <summary>freeBusy over the sync window → busy flags. Returns the state and its error.</summary>
    async Task<(string State, string? Error)> SyncBusyAsync(RequestClaims claims, Target t, CancellationToken ct)
    {
        var from = DateTimeOffset.UtcNow;
        var to = from.AddDays(options.SyncDays);
        var r = await google.FreeBusyAsync(t.CalendarId, from, to, ct);
        if (!r.Ok)
        {
            if (r.Transient) throw new GoogleUnavailableException(r.Describe());
            return ("unknown", "freeBusy: " + r.Describe());
        }
        if (!r.Body.TryGetProperty("calendars", out var cals) || !cals.TryGetProperty(t.CalendarId, out var cal))
            return ("unknown", "freeBusy: the calendar is missing from Google's answer");
        if (cal.TryGetProperty("errors", out var errors) && errors.GetArrayLength() > 0)
        {
            // Google's own words: "unknown" is not "free". Keep the last known busy flags.
            var reason = errors[0].TryGetProperty("reason", out var re) ? re.GetString() : "error";
            return ("unknown", $"freeBusy: {reason}");
        }
        var busy = cal.TryGetProperty("busy", out var b) ? b.GetRawText() : "[]";

        // Busy = Google's busy periods minus Frontdesk's own events (a booking must not block its own
        // slot), plus the foreign events the mirror knows precisely (so a foreign event that overlaps
        // one of ours is not hidden by the subtraction).
        await db.QueryOnceAsync<int>(claims, """
            with fb as (
              select range_agg(tstzrange((x->>'start')::timestamptz, (x->>'end')::timestamptz)) m
                from jsonb_array_elements(@Busy::jsonb) x),
            own as (
              select range_agg(r) m from (
                select tstzrange(starts_at, ends_at) r from bookings
                 where clinic_id = @ClinicId and practitioner_id = @PractitionerId
                   and calendar_event_id is not null and calendar_event_calendar = @CalendarId
                union all
                select tstzrange(starts_at, ends_at) from calendar_events
                 where clinic_id = @ClinicId and practitioner_id = @PractitionerId and booking_id is not null) o),
            foreign_events as (
              select range_agg(tstzrange(starts_at, ends_at)) m from calendar_events
               where clinic_id = @ClinicId and practitioner_id = @PractitionerId and booking_id is null and not transparent
                 and ends_at > @From and starts_at < @To),
            blocked as (
              select (coalesce((select m from fb), '{}') - coalesce((select m from own), '{}'))
                     + coalesce((select m from foreign_events), '{}') m)
            update calendar_slots s
               set busy = tstzrange(s.starts_at, s.ends_at) && (select m from blocked)
             where s.clinic_id = @ClinicId and s.practitioner_id = @PractitionerId
               and s.ends_at > @From and s.starts_at < @To
               and s.busy is distinct from (tstzrange(s.starts_at, s.ends_at) && (select m from blocked))
            returning 1
            """, new { Busy = busy, t.ClinicId, t.PractitionerId, t.CalendarId, From = from, To = to }, ct);
        return ("ok", null);
    }

    /// <summary>Push channel (events.watch) when Frontdesk has a public HTTPS address Google can call;
    /// renewed a day before it expires. Without one, the periodic sync is all there is.</summary>
    async Task EnsureChannelAsync(RequestClaims claims, Target t, CancellationToken ct)
    {
        if (app.PublicBaseUrl is not { } baseUrl || !baseUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) return;
        if (t.ChannelId is not null && t.ChannelExpiresAt > DateTimeOffset.UtcNow.AddDays(1)) return;
        var channelId = Guid.NewGuid().ToString();
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var r = await google.WatchAsync(t.CalendarId, channelId, token, baseUrl.TrimEnd('/') + CalendarNotifications.Path, TimeSpan.FromDays(7), ct);
        if (!r.Ok) { Log.WatchFailed(log, t.ClinicId, t.PractitionerId, r.Status); return; }
        var expires = r.Body.TryGetProperty("expiration", out var ex) && long.TryParse(ex.GetString(), CultureInfo.InvariantCulture, out var ms)
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : DateTimeOffset.UtcNow.AddDays(7);
        var resource = r.Body.TryGetProperty("resourceId", out var ri) ? ri.GetString() : null;
        await db.QueryOnceAsync<int>(claims, """
            update calendar_syncs set channel_id = @ChannelId, channel_token = @Token, channel_resource_id = @Resource, channel_expires_at = @Expires
             where clinic_id = @ClinicId and practitioner_id = @PractitionerId and calendar_id = @CalendarId
            returning 1
            """, new { ChannelId = channelId, Token = token, Resource = resource, Expires = expires, t.ClinicId, t.PractitionerId, t.CalendarId }, ct);
        if (t.ChannelId is not null && t.ChannelResourceId is not null)
            await google.StopChannelAsync(t.ChannelId, t.ChannelResourceId, ct);
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Calendar of practitioner {PractitionerId} (clinic {ClinicId}) is unknown: busy flags keep their last known state")]
        public static partial void Unknown(ILogger logger, Guid clinicId, Guid practitionerId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Calendar sync token of practitioner {PractitionerId} (clinic {ClinicId}) expired: full resync")]
        public static partial void FullResync(ILogger logger, Guid clinicId, Guid practitionerId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Calendar push channel for practitioner {PractitionerId} (clinic {ClinicId}) not created: Google answered {Status}")]
        public static partial void WatchFailed(ILogger logger, Guid clinicId, Guid practitionerId, int status);
    }
}
