using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Frontdesk.Calls;
using Frontdesk.FollowUp;
using Frontdesk.Knowledge;
using Frontdesk.Messaging;

namespace Frontdesk.Privacy;

/// <summary>Retention worker settings (section <c>Privacy</c>: <c>Privacy__RetentionIntervalSeconds</c>, …).</summary>
public sealed class PrivacyOptions
{
    /// <summary>Time between retention passes.</summary>
    [Range(10, 86_400)] public int RetentionIntervalSeconds { get; set; } = 3600;

    /// <summary>Rows per transaction (each batch is claimed with FOR UPDATE SKIP LOCKED).</summary>
    [Range(1, 10_000)] public int RetentionBatchSize { get; set; } = 500;
}

/// <summary>What one pass did, by kind of row.</summary>
public sealed record RetentionPass(DateTimeOffset At, IReadOnlyDictionary<string, int> Purged, IReadOnlyDictionary<string, int> Backfilled)
{
    public int Total => Purged.Values.Sum() + Backfilled.Values.Sum();
}

/// <summary>
/// Enforces each clinic's <c>call_content_retention_days</c> (default 90): call content (transcripts,
/// messages, summaries, recording URLs — <c>calls.content</c>), SMS recipients and texts, what patients
/// texted us (<c>sms_replies.content</c>), sanitized transcripts and stored webhook replies older than that are purged; leads that never converted are
/// minimised (contact, number hash and external reference dropped; procedure and dates kept for the
/// figures). The same pass seals personal values stored in plaintext before issue 13 (the backfill).
/// Safe on any number of instances: every batch is claimed with FOR UPDATE SKIP LOCKED.
/// </summary>
public sealed partial class RetentionWorker(Db db, Vault vault, PrivacyOptions options, ILogger<RetentionWorker> log) : BackgroundService
{
    static readonly RequestClaims System = RequestClaims.AsSystem(SystemPath.Retention);

    static readonly Counter<long> Purged = FrontdeskMeter.Meter.CreateCounter<long>("frontdesk.retention.purged",
        description: "Rows whose personal content the retention worker purged or minimised, by kind");

    static readonly Counter<long> Backfilled = FrontdeskMeter.Meter.CreateCounter<long>("frontdesk.privacy.backfilled",
        description: "Rows whose plaintext personal values (stored before issue 13) were sealed, by table");

    volatile RetentionPass? _last;
    volatile string? _lastError;

    public RetentionPass? Last => _last;

    /// <summary>The /healthz detail.</summary>
    public string Health() => (_last, _lastError) switch
    {
        (_, { } error) => $"last pass failed ({error}); retrying every {options.RetentionIntervalSeconds} s",
        (null, _) => "first pass pending",
        ({ } p, _) => $"ok: last pass {p.At:u}, purged {Describe(p.Purged)}; sealed {Describe(p.Backfilled)}; every {options.RetentionIntervalSeconds} s",
    };

    static string Describe(IReadOnlyDictionary<string, int> counts) =>
        counts.Values.Sum() == 0 ? "nothing" : string.Join(", ", counts.Where(kv => kv.Value > 0).Select(kv => $"{kv.Value} {kv.Key}"));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException or JsonException
                                      && !stoppingToken.IsCancellationRequested)
            {
                _lastError = e.GetType().Name;
                Log.PassFailed(log, e.GetType().Name, e);
            }
            try { await Task.Delay(TimeSpan.FromSeconds(options.RetentionIntervalSeconds), stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>One full pass: every kind, batch after batch, until nothing is due.</summary>
    public async Task<RetentionPass> RunOnceAsync(CancellationToken ct)
    {
        var purged = new Dictionary<string, int>
        {
            ["call contents"] = await DrainAsync(PurgeCallContentSql, ct),
            ["SMS contents"] = await DrainAsync(PurgeSmsContentSql, ct),
            ["leads minimised"] = await DrainAsync(MinimiseLeadsSql, ct),
            ["sanitized transcripts"] = await DrainAsync(PurgePublicTranscriptsSql, ct),
            ["webhook replies"] = await DrainAsync(PurgeWebhookRepliesSql, ct),
            ["closed callbacks"] = await DrainAsync(PurgeClosedCallbacksSql, ct),
            ["SMS replies"] = await DrainAsync(PurgeSmsRepliesSql, ct),
        };
        var backfilled = new Dictionary<string, int>
        {
            ["calls"] = await DrainAsync(BackfillCallsAsync, ct),
            ["leads"] = await DrainAsync(BackfillLeadsAsync, ct),
            ["SMS"] = await DrainAsync(BackfillSmsAsync, ct),
            ["opt-outs"] = await DrainAsync(BackfillOptOutsAsync, ct),
        };
        foreach (var (kind, n) in purged.Where(kv => kv.Value > 0)) Purged.Add(n, new KeyValuePair<string, object?>("kind", kind));
        foreach (var (table, n) in backfilled.Where(kv => kv.Value > 0)) Backfilled.Add(n, new KeyValuePair<string, object?>("table", table));
        var pass = new RetentionPass(DateTimeOffset.UtcNow, purged, backfilled);
        _last = pass;
        _lastError = null;
        if (pass.Total > 0) Log.Pass(log, Describe(purged), Describe(backfilled));
        return pass;
    }

    async Task<int> DrainAsync(string sql, CancellationToken ct) =>
        await DrainAsync((s, batch, token) => s.ExecuteAsync(sql, new { Batch = batch }, token), ct);

    async Task<int> DrainAsync(Func<DbSession, int, CancellationToken, Task<int>> batch, CancellationToken ct)
    {
        var total = 0;
        while (true)
        {
            var n = await db.InTransactionAsync(System, s => batch(s, options.RetentionBatchSize, ct), ct);
            total += n;
            if (n < options.RetentionBatchSize) return total;
        }
    }

    // Ages are measured from when Frontdesk stored the row (created_at/received_at), never from a time
    // a provider reported.
    const string Due = "< now() - make_interval(days => k.call_content_retention_days)";

    const string PurgeCallContentSql = $"""
        with due as (
          select c.id from calls c join clinics k on k.id = c.clinic_id
          where c.content is not null and c.created_at {Due}
          order by c.created_at limit @Batch for update of c skip locked)
        update calls c set content = null, content_purged_at = now(), updated_at = now() from due where c.id = due.id
        """;

    // A message still waiting for its first accepted send (no Twilio sid yet) keeps its text.
    const string PurgeSmsContentSql = $"""
        with due as (
          select m.id from sms_messages m join clinics k on k.id = m.clinic_id
          where m.content is not null and not (m.twilio_sid is null and m.status in ('queued', 'sending')) and m.created_at {Due}
          order by m.created_at limit @Batch for update of m skip locked)
        update sms_messages m set content = null, content_purged_at = now(), updated_at = now() from due where m.id = due.id
        """;

    // Its booking link stops working with it (the page finds no contact), so the stored link goes too.
    const string MinimiseLeadsSql = $"""
        with due as (
          select l.id, l.clinic_id from leads l join clinics k on k.id = l.clinic_id
          where l.converted_at is null and l.minimised_at is null and l.created_at {Due}
          order by l.created_at limit @Batch for update of l skip locked),
        links as (
          update lead_followups f set booking_link = null from due where f.clinic_id = due.clinic_id and f.lead_id = due.id)
        update leads l set content = null, phone_hash = null, phone = null, name = null, external_ref = null, minimised_at = now()
        from due where l.id = due.id
        """;

    const string PurgePublicTranscriptsSql = $"""
        with due as (
          select t.id from public_transcripts t join clinics k on k.id = t.clinic_id
          where t.created_at {Due}
          order by t.created_at limit @Batch for update of t skip locked)
        delete from public_transcripts t using due where t.id = due.id
        """;

    // The rows stay: they are the webhooks' idempotency keys.
    const string PurgeWebhookRepliesSql = $$"""
        with due as (
          select e.id from vapi_events e join clinics k on k.id = e.clinic_id
          where e.response is not null and e.response <> '{}'::jsonb and e.received_at {{Due}}
          order by e.received_at limit @Batch for update of e skip locked)
        update vapi_events e set response = '{}'::jsonb from due where e.id = due.id
        """;

    // Issue 17: a callback staff closed (done, or no answer) goes once the retention period has passed since;
    // an open one stays until a person closes it — it is the queue itself.
    const string PurgeClosedCallbacksSql = $"""
        with due as (
          select c.clinic_id, c.id from callbacks c join clinics k on k.id = c.clinic_id
          where c.status <> 'open' and c.updated_at {Due}
          order by c.updated_at limit @Batch for update of c skip locked)
        delete from callbacks c using due where c.clinic_id = due.clinic_id and c.id = due.id
        """;

    // What patients texted us (the inbox): the sender and text go; the row (kind, booking, status) stays.
    const string PurgeSmsRepliesSql = $"""
        with due as (
          select r.clinic_id, r.id from sms_replies r join clinics k on k.id = r.clinic_id
          where r.content is not null and r.received_at {Due}
          order by r.received_at limit @Batch for update of r skip locked)
        update sms_replies r set content = null, content_purged_at = now() from due where r.clinic_id = due.clinic_id and r.id = due.id
        """;

    // ---------------------------------------------------------------------------- backfill (issue 13)

    sealed record LegacyCall(Guid Id, Guid ClinicId, string Timezone, string CallId, string? Report, string? Summary, string? Structured,
        string? Success, string? Number);

    async Task<int> BackfillCallsAsync(DbSession s, int batch, CancellationToken ct)
    {
        var rows = await s.QueryAsync<LegacyCall>("""
            select c.id, c.clinic_id, k.timezone, c.call_id, c.report::text, c.summary, c.structured_data::text, c.success_evaluation,
                   c.customer_number
            from calls c join clinics k on k.id = c.clinic_id
            where c.report is not null or c.summary is not null or c.structured_data is not null or c.success_evaluation is not null
               or c.customer_number is not null
            limit @Batch for update of c skip locked
            """, new { Batch = batch }, ct);
        foreach (var r in rows)
        {
            var fromReport = r.Report is null ? null : CallContent.From(JsonDocument.Parse(r.Report).RootElement);
            var content = new CallContent(
                fromReport?.CustomerNumber ?? r.Number, fromReport?.CustomerName, fromReport?.Transcript, fromReport?.Messages,
                fromReport?.Summary ?? r.Summary, fromReport?.RecordingUrl, fromReport?.StereoRecordingUrl,
                fromReport?.StructuredData ?? (r.Structured is null ? null : JsonDocument.Parse(r.Structured).RootElement.Clone()),
                fromReport?.SuccessEvaluation ?? r.Success);
            var number = Phone.ToE164(content.CustomerNumber, Phone.RegionForTimezone(r.Timezone));
            var hash = await vault.CallerHashAsync(s, r.ClinicId, number is null ? CallerSubject.Call(r.CallId) : CallerSubject.Phone(number), ct);
            // A content sealed by the new code wins: the legacy values are then simply dropped.
            await s.ExecuteAsync("""
                update calls set caller_hash = case when content is null then @Hash else caller_hash end,
                       content = coalesce(content, @Content),
                       report = null, summary = null, structured_data = null, success_evaluation = null, customer_number = null
                where id = @Id
                """, new
            {
                r.Id, Hash = hash,
                Content = await vault.SealForCallerAsync(s, r.ClinicId, hash, CallContent.Table, r.CallId, content, ct),
            }, ct);
        }
        return rows.Count;
    }

    sealed record LegacyLead(Guid Id, Guid ClinicId, string? Phone, string? Name, bool Sealed);

    async Task<int> BackfillLeadsAsync(DbSession s, int batch, CancellationToken ct)
    {
        var rows = await s.QueryAsync<LegacyLead>("""
            select id, clinic_id, phone, name, content is not null from leads
            where phone is not null or name is not null
            limit @Batch for update skip locked
            """, new { Batch = batch }, ct);
        foreach (var r in rows)
        {
            byte[]? hash = null, content = null;
            if (!r.Sealed && r.Phone is { } phone)
            {
                hash = await vault.CallerHashAsync(s, r.ClinicId, CallerSubject.Phone(phone), ct);
                content = await vault.SealForCallerAsync(s, r.ClinicId, hash, LeadContact.Table, r.Id.ToString(), new LeadContact(phone, r.Name), ct);
            }
            await s.ExecuteAsync("""
                update leads set phone_hash = coalesce(@Hash, phone_hash), content = coalesce(@Content, content), phone = null, name = null
                where id = @Id
                """, new { r.Id, Hash = hash, Content = content }, ct);
        }
        return rows.Count;
    }

    sealed record LegacySms(Guid Id, Guid ClinicId, string? To, string? Body, bool Sealed);

    async Task<int> BackfillSmsAsync(DbSession s, int batch, CancellationToken ct)
    {
        var rows = await s.QueryAsync<LegacySms>("""
            select id, clinic_id, to_phone, body, content is not null from sms_messages
            where to_phone is not null or body is not null
            limit @Batch for update skip locked
            """, new { Batch = batch }, ct);
        foreach (var r in rows)
        {
            byte[]? hash = null, content = null;
            if (!r.Sealed && r.To is { } to)
            {
                hash = await vault.CallerHashAsync(s, r.ClinicId, CallerSubject.Phone(to), ct);
                content = await vault.SealForCallerAsync(s, r.ClinicId, hash, SmsContent.Table, r.Id.ToString(), new SmsContent(to, r.Body ?? ""), ct);
            }
            await s.ExecuteAsync("""
                update sms_messages set to_hash = coalesce(@Hash, to_hash), content = coalesce(@Content, content), to_phone = null, body = null
                where id = @Id
                """, new { r.Id, Hash = hash, Content = content }, ct);
        }
        return rows.Count;
    }

    sealed record LegacyOptOut(Guid ClinicId, string Phone, string Source, DateTimeOffset CreatedAt);

    async Task<int> BackfillOptOutsAsync(DbSession s, int batch, CancellationToken ct)
    {
        var rows = await s.QueryAsync<LegacyOptOut>("""
            select clinic_id, phone, source, created_at from sms_opt_outs where phone is not null
            limit @Batch for update skip locked
            """, new { Batch = batch }, ct);
        foreach (var r in rows)
        {
            var hash = await vault.CallerHashAsync(s, r.ClinicId, CallerSubject.Phone(r.Phone), ct);
            await s.ExecuteAsync("""
                insert into sms_opt_outs (clinic_id, phone_hash, source, created_at) values (@ClinicId, @Hash, @Source, @CreatedAt)
                on conflict (clinic_id, phone_hash) do nothing
                """, new { r.ClinicId, Hash = hash, r.Source, r.CreatedAt }, ct);
            await s.ExecuteAsync("delete from sms_opt_outs where clinic_id = @ClinicId and phone = @Phone", new { r.ClinicId, r.Phone }, ct);
        }
        return rows.Count;
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Retention pass: purged {Purged}; sealed {Backfilled}")]
        public static partial void Pass(ILogger logger, string purged, string backfilled);

        [LoggerMessage(Level = LogLevel.Error, Message = "Retention pass failed with {ExceptionType}; retrying at the next interval")]
        public static partial void PassFailed(ILogger logger, string exceptionType, Exception e);
    }
}
