using Microsoft.Extensions.DependencyInjection.Extensions;
using System.Security;
using Frontdesk.Audit;
using Microsoft.AspNetCore.Mvc;

namespace Frontdesk.Messaging;

/// <summary>Twilio's callbacks: delivery status and inbound messages (STOP / START / HELP). Both are
/// authenticated by X-Twilio-Signature over FRONTDESK_PUBLIC_BASE_URL + path + query: HMAC-SHA1 with
/// the auth token, or, when X-Twilio-Webhooks-Signature-Settings names a SharedKey, that key's secret
/// and algorithm (TWILIO_WEBHOOK_SHARED_KEYS).</summary>
sealed record ClinicName(Guid Id, string Name);

public static partial class TwilioEndpoints
{
    static readonly HashSet<string> OptOutWords = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"];
    static readonly HashSet<string> OptInWords = ["START", "YES", "UNSTOP"];
    static readonly HashSet<string> HelpWords = ["HELP", "INFO"];
    static readonly RequestClaims Callback = RequestClaims.AsSystem(SystemPath.ProviderCallback);

    public static IServiceCollection AddMessaging(this IServiceCollection services, IConfiguration config)
    {
        var options = TwilioOptions.Load(config);
        services.AddSingleton(options);
        services.TryAddSingleton<PublicUrl>();
        services.AddHttpClient<TwilioClient>(c => c.Timeout = TimeSpan.FromSeconds(15));
        services.AddSingleton<IOutboxHandler, SmsSender>();
        services.AddOutbox();
        return services;
    }

    public static void MapTwilio(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<TwilioOptions>();
        app.ServiceProvider.GetRequiredService<HealthDetails>().Add("sms", () => options.Configured
            ? "twilio: configured"
            : "twilio: not configured (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN unset): SMS stay queued");
        var group = app.MapGroup("/twilio").WithTags("Twilio").AllowAnonymous().DisableAntiforgery();
        group.MapPost("/status", Status);
        group.MapPost("/inbound", Inbound);
    }

    /// <summary>Null when the request carries a valid signature; otherwise the problem to return.</summary>
    static async Task<(IReadOnlyList<KeyValuePair<string, string>> Form, ProblemHttpResult? Problem)> VerifyAsync(
        HttpRequest request, TwilioOptions options, PublicUrl urls, ILoggerFactory loggers, CancellationToken ct)
    {
        if (!options.Configured)
            return ([], Problems.Problem(503, Problems.Unavailable, "Twilio is not configured"));
        if (request.Headers["X-Twilio-Signature"] is not [{ Length: > 0 } signature])
            return ([], Problems.Problem(401, Problems.Unauthorized, "X-Twilio-Signature is required"));
        if (!request.HasFormContentType)
            return ([], Problems.Problem(415, Problems.UnsupportedMediaType, "Expected application/x-www-form-urlencoded"));
        var (form, unreadable) = await InputGuard.ReadFormAsync(request, ct);
        if (form is null) return ([], unreadable);
        var pairs = form.SelectMany(f => f.Value.Select(v => new KeyValuePair<string, string>(f.Key, v ?? ""))).ToList();
        var url = urls.Base + request.Path + request.QueryString;
        var key = options.AuthToken!;
        var algorithm = TwilioSignatureAlgorithm.HmacSha1;
        if (request.Headers[TwilioSignature.SettingsHeader] is [{ Length: > 0 } settings])
        {
            if (!TwilioSignature.TryReadSettings(settings, out var keyId, out algorithm))
                return ([], Problems.Problem(403, Problems.Forbidden, "Unsupported signature settings",
                    $"{TwilioSignature.SettingsHeader} must name a key and HMAC_SHA1 or HMAC_SHA256."));
            if (!options.WebhookSharedKeys.TryGetValue(keyId, out var shared))
            {
                Log.UnknownSharedKey(loggers.CreateLogger("Frontdesk.Messaging"), keyId);
                return ([], Problems.Problem(403, Problems.Forbidden, "Signed with a SharedKey this server does not have",
                    $"Add SharedKey {keyId} to TWILIO_WEBHOOK_SHARED_KEYS."));
            }
            key = shared;
        }
        return TwilioSignature.IsValid(key, url, pairs, signature, algorithm)
            ? (pairs, null)
            : ([], Problems.Problem(403, Problems.Forbidden, "X-Twilio-Signature does not match"));
    }

    static string? Get(IReadOnlyList<KeyValuePair<string, string>> form, string name) =>
        form.FirstOrDefault(p => p.Key == name).Value;

    static async Task<Results<NoContent, ProblemHttpResult>> Status(HttpRequest request, TwilioOptions options, PublicUrl urls, Db db,
        ILoggerFactory loggers, CancellationToken ct)
    {
        var (form, problem) = await VerifyAsync(request, options, urls, loggers, ct);
        if (problem is not null) return problem;
        var sid = Get(form, "MessageSid") ?? Get(form, "SmsSid");
        var status = Get(form, "MessageStatus") ?? Get(form, "SmsStatus");
        if (string.IsNullOrEmpty(sid) || string.IsNullOrEmpty(status) || status.Length > 40)
            return Problems.Invalid("MessageSid and MessageStatus are required.");
        int? code = int.TryParse(Get(form, "ErrorCode"), out var c) ? c : null;
        // Callbacks can arrive out of order: a status never moves back (delivered stays delivered).
        await db.QueryOnceAsync<int>(Callback, """
            with m as (
              update sms_messages set status = @Status, error_code = coalesce(@Code, error_code), updated_at = now()
              where twilio_sid = @Sid
                and (case @Status when 'accepted' then 1 when 'scheduled' then 1 when 'queued' then 1 when 'sending' then 2 when 'sent' then 3 else 4 end)
                 >= (case status when 'accepted' then 1 when 'scheduled' then 1 when 'queued' then 1 when 'sending' then 2 when 'sent' then 3 else 4 end)
              returning followup_id, clinic_id
            )
            update lead_followups f set status = case when @Status in ('failed', 'undelivered') then 'failed' else 'sent' end
            from m where f.id = m.followup_id and f.clinic_id = m.clinic_id
            returning 1
            """, new { Sid = sid, Status = status, Code = code }, ct);
        return TypedResults.NoContent();
    }

    static async Task<Results<ContentHttpResult, ProblemHttpResult>> Inbound(HttpRequest request, TwilioOptions options, PublicUrl urls, Db db,
        ILoggerFactory loggers, CancellationToken ct)
    {
        var (form, problem) = await VerifyAsync(request, options, urls, loggers, ct);
        if (problem is not null) return problem;
        var from = Phone.ToE164(Get(form, "From"));
        var to = Get(form, "To");
        var word = (Get(form, "Body") ?? "").Trim().ToUpperInvariant();
        if (from is null || string.IsNullOrEmpty(to))
            return Problems.Invalid("From and To must be phone numbers.");
        var candidates = new[] { to, Get(form, "MessagingServiceSid") }.Where(s => !string.IsNullOrEmpty(s)).ToArray();
        var shared = string.Equals(to, options.From, StringComparison.Ordinal) || string.Equals(Get(form, "MessagingServiceSid"), options.From, StringComparison.Ordinal);

        var action = OptOutWords.Contains(word) ? "sms_opt_out" : OptInWords.Contains(word) ? "sms_opt_in" : HelpWords.Contains(word) ? "help" : null;
        var clinics = await db.InTransactionAsync(Callback, async s =>
        {
            var ids = await s.QueryAsync<ClinicName>("""
                select id, name from clinics where sms_from = any(@Candidates) or (sms_from is null and @Shared)
                """, new { Candidates = candidates, Shared = shared }, ct);
            foreach (var (id, _) in ids.Select(c => (c.Id, c.Name)))
            {
                var changed = action switch
                {
                    "sms_opt_out" => await s.ExecuteAsync("""
                        insert into sms_opt_outs (clinic_id, phone, source) values (@Id, @Phone, 'sms-keyword') on conflict do nothing
                        """, new { Id = id, Phone = from }, ct),
                    "sms_opt_in" => await s.ExecuteAsync("delete from sms_opt_outs where clinic_id = @Id and phone = @Phone", new { Id = id, Phone = from }, ct),
                    _ => 0,
                };
                if (changed > 0)
                    await AuditLog.WriteAsync(s, id, action!, "sms_consent", null, new { keyword = word }, ct, actor: "twilio:inbound");
            }
            return ids;
        }, ct);
        if (action is "sms_opt_out" or "sms_opt_in")
            Log.Consent(loggers.CreateLogger("Frontdesk.Messaging"), action, clinics.Count);

        var reply = action == "help"
            ? $"<Response><Message>{SecurityElement.Escape(clinics.Count == 1 ? clinics[0].Name : "Frontdesk")}: reply STOP to opt out of messages, START to opt back in.</Message></Response>"
            : "<Response></Response>";
        return TypedResults.Content("<?xml version=\"1.0\" encoding=\"UTF-8\"?>" + reply, "text/xml");
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Inbound SMS consent change {Action} for {Clinics} clinic(s)")]
        public static partial void Consent(ILogger logger, string action, int clinics);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Twilio callback signed with SharedKey {KeyId}, which TWILIO_WEBHOOK_SHARED_KEYS lacks: refused")]
        public static partial void UnknownSharedKey(ILogger logger, string keyId);
    }
}
