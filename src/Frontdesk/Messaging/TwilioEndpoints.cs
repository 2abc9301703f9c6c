using Microsoft.Extensions.DependencyInjection.Extensions;
using System.Security;
using Frontdesk.Audit;
using Microsoft.AspNetCore.Mvc;
using Frontdesk.Inbox;

namespace Frontdesk.Messaging;

/// <summary>Twilio's callbacks: delivery status and inbound messages (STOP / START / HELP here; replies to
/// reminders and everything else in Inbox/InboundReplies.cs). Both are authenticated by X-Twilio-Signature
/// over FRONTDESK_PUBLIC_BASE_URL + path + query: HMAC-SHA1 with the auth token, or, when
/// X-Twilio-Webhooks-Signature-Settings names a SharedKey, that key's secret and algorithm
/// (TWILIO_WEBHOOK_SHARED_KEYS).</summary>
sealed record ClinicName(Guid Id, string Name);

public static partial class TwilioEndpoints
{
    static readonly IReadOnlySet<string> OptOutWords = ReplyWords.OptOut;
    static readonly IReadOnlySet<string> OptInWords = ReplyWords.OptIn;
    static readonly IReadOnlySet<string> HelpWords = ReplyWords.Help;
    static readonly RequestClaims Callback = RequestClaims.AsSystem(SystemPath.ProviderCallback);

    public static IServiceCollection AddMessaging(this IServiceCollection services, IConfiguration config)
    {
        var options = TwilioOptions.Load(config);
        services.AddSingleton(options);
        services.TryAddSingleton<PublicUrl>();
        services.AddOptions<SmsOptions>()
            .Configure<IConfiguration>(SmsOptions.Bind)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<SmsOptions>>().Value);
        services.AddHttpClient<TwilioClient>((sp, c) => c.Timeout = TimeSpan.FromSeconds(sp.GetRequiredService<SmsOptions>().TwilioTimeoutSeconds));
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
        // ?m= is our message id (SmsSender puts it in the callback URL): it settles an attempt whose
        // answer we never read (status unknown/sending/review, no sid yet). Otherwise the sid finds it.
        Guid? messageId = Guid.TryParse(request.Query["m"].ToString(), out var mid) ? mid : null;
        // Callbacks can arrive out of order: a status never moves back (delivered stays delivered).
        await db.QueryOnceAsync<int>(Callback, $"""
            with m as (
              update sms_messages set status = @Status, twilio_sid = @Sid, error_code = coalesce(@Code, error_code), updated_at = now()
              where (twilio_sid = @Sid or (id = @MessageId and twilio_sid is null))
                and (twilio_sid is null or (case @Status when 'accepted' then 1 when 'scheduled' then 1 when 'queued' then 1 when 'sending' then 2 when 'sent' then 3 else 4 end)
                 >= (case status when 'accepted' then 1 when 'scheduled' then 1 when 'queued' then 1 when 'sending' then 2 when 'sent' then 3 else 4 end))
              returning followup_id, clinic_id, status, twilio_sid
            )
            update lead_followups f set status = {SmsStatus.FollowUpStatusSql("m.status", "m.twilio_sid")}
            from m where f.id = m.followup_id and f.clinic_id = m.clinic_id
            returning 1
            """, new { Sid = sid, Status = status, Code = code, MessageId = messageId }, ct);
        return TypedResults.NoContent();
    }

    static async Task<Results<ContentHttpResult, ProblemHttpResult>> Inbound(HttpRequest request, TwilioOptions options, PublicUrl urls, Db db,
        Frontdesk.Privacy.Vault vault, InboundReplies replies, ILoggerFactory loggers, CancellationToken ct)
    {
        var (form, problem) = await VerifyAsync(request, options, urls, loggers, ct);
        if (problem is not null) return problem;
        var from = Phone.ToE164(Get(form, "From"));
        var to = Get(form, "To");
        var body = Get(form, "Body") ?? "";
        var word = ReplyWords.Keyword(body);
        if (from is null || string.IsNullOrEmpty(to))
            return Problems.Invalid("From and To must be phone numbers.");
        // Anything but Twilio's own keywords is a reply (Inbox/): its MessageSid makes a retried delivery harmless.
        var kind = ReplyWords.Classify(body);
        var sid = Get(form, "MessageSid") ?? Get(form, "SmsSid");
        if (kind != ReplyKind.Keyword && !InboundReplies.IsSid(sid))
            return Problems.Invalid("MessageSid is required for a message that is not a keyword.");
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
                // Opt-outs are kept by the number's keyed hash in that clinic (issue 13), never the number.
                // Only a consent change needs it: HELP to a shared number must not depend on every clinic's keys.
                var hash = action is not ("sms_opt_out" or "sms_opt_in") ? null : await vault.CallerHashAsync(s, id, Frontdesk.Privacy.CallerSubject.Phone(from), ct);
                var changed = action switch
                {
                    "sms_opt_out" => await s.ExecuteAsync(SmsOptOuts.AddSql, new { ClinicId = id, Hash = hash, Source = "sms-keyword" }, ct),
                    "sms_opt_in" => await s.ExecuteAsync(SmsOptOuts.RemoveSql, new { ClinicId = id, Hash = hash, Phone = from }, ct),
                    _ => 0,
                };
                if (changed > 0)
                    await AuditLog.WriteAsync(s, id, action!, "sms_consent", null, new { keyword = word }, ct, actor: "twilio:inbound");
            }
            return ids;
        }, ct);
        if (action is "sms_opt_out" or "sms_opt_in")
            Log.Consent(loggers.CreateLogger("Frontdesk.Messaging"), action, clinics.Count);
        if (kind != ReplyKind.Keyword)
            await replies.HandleAsync([.. clinics.Select(c => c.Id)], from, sid!, body, kind, ct);

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
