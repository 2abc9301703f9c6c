using System.Security.Cryptography;
using System.Text;

namespace Frontdesk.Calendar;

/// <summary>
/// Google's push notifications for events.watch channels. The body is empty; the headers say which
/// channel fired (X-Goog-Channel-ID), why (X-Goog-Resource-State: sync when the channel opens,
/// exists / not_exists on a change), and carry the token we gave the channel
/// (X-Goog-Channel-Token), checked in constant time. A valid change asks for an incremental sync.
/// </summary>
public static partial class CalendarNotifications
{
    public const string Path = "/google/calendar/notifications";

    sealed record Channel(Guid ClinicId, Guid PractitionerId, string? Token, string? ResourceId);

    public static void MapCalendarNotifications(this IEndpointRouteBuilder app) =>
        app.MapPost(Path, Receive).WithTags("Calendar").AllowAnonymous();

    static async Task<Results<Ok, ProblemHttpResult>> Receive(HttpContext http, Db db, CalendarSignal signal, ILoggerFactory logs, CancellationToken ct)
    {
        var h = http.Request.Headers;
        var channelId = h["X-Goog-Channel-ID"].ToString();
        var state = h["X-Goog-Resource-State"].ToString();
        if (channelId.Length is 0 or > 200 || state.Length == 0)
            return Problems.Invalid("X-Goog-Channel-ID and X-Goog-Resource-State are required.");

        var rows = await db.QueryOnceAsync<Channel>(RequestClaims.AsSystem(SystemPath.WebhookClinicResolution),
            "select clinic_id, practitioner_id, channel_token, channel_resource_id from calendar_syncs where channel_id = @Id",
            new { Id = channelId }, ct);
        var given = Encoding.UTF8.GetBytes(h["X-Goog-Channel-Token"].ToString());
        // Unknown channel and wrong token answer alike, so neither can be probed.
        var expected = rows is [var c] && c.Token is not null ? Encoding.UTF8.GetBytes(c.Token) : RandomNumberGenerator.GetBytes(44);
        var resource = h["X-Goog-Resource-ID"].ToString();
        if (rows.Count != 1 || !CryptographicOperations.FixedTimeEquals(given, expected)
            || (resource.Length > 0 && rows[0].ResourceId is { } known && resource != known))
        {
            Log.Rejected(logs.CreateLogger("Frontdesk.Calendar"));
            return Problems.Problem(401, Problems.Unauthorized, "Unknown channel or wrong channel token");
        }

        if (state is "exists" or "not_exists")
        {
            var ch = rows[0];
            await db.QueryOnceAsync<int>(RequestClaims.ForClinic(ch.ClinicId, "google-calendar-channel"), """
                update calendar_syncs set next_sync_at = now(), sync_requested_at = now()
                 where clinic_id = @ClinicId and practitioner_id = @PractitionerId
                returning 1
                """, new { ch.ClinicId, ch.PractitionerId }, ct);
            signal.Set();
        }
        // "sync" (the channel's opening message) needs nothing.
        return TypedResults.Ok();
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Calendar push notification rejected: unknown channel or wrong token")]
        public static partial void Rejected(ILogger logger);
    }
}
