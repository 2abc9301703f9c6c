using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Frontdesk.Privacy;
using Npgsql;

namespace Frontdesk.Calls;

/// <summary>A clinic's Vapi private API key, sealed under the master key through
/// <see cref="IKeyEncryptionKeys"/> (the KMS seam); the associated data names the clinic, so a sealed
/// key copied to another clinic's row does not open.</summary>
public sealed class VapiApiKeys(IKeyEncryptionKeys keks)
{
    static byte[] Aad(Guid clinicId) => Encoding.UTF8.GetBytes($"frontdesk:vapi-api-key:{clinicId:N}");

    public (byte[] Ciphertext, string KeyId) Seal(Guid clinicId, string apiKey) =>
        (keks.Wrap(Encoding.UTF8.GetBytes(apiKey), Aad(clinicId)), keks.CurrentKeyId);

    public string Open(Guid clinicId, string keyId, byte[] ciphertext) =>
        Encoding.UTF8.GetString(keks.Unwrap(keyId, ciphertext, Aad(clinicId)));

    /// <summary>Plausible private keys only (Vapi's are UUIDs): visible ASCII, no spaces.</summary>
    public static bool IsPlausible(string key) => key.Length is >= 8 and <= 200 && key.All(ch => ch is > ' ' and < '\u007f');

    /// <summary>Sets (or, with null, removes) a clinic's key in the caller's tenant transaction, audited
    /// without the key; a new key is reconciled at once and forgets the old key's failures.</summary>
    public async Task SetAsync(DbSession s, Guid clinicId, string? apiKey, CancellationToken ct)
    {
        await Audit.AuditLog.WriteAsync(s, clinicId, apiKey is null ? "vapi_api_key_removed" : "vapi_api_key_set", "clinic", clinicId.ToString(), null, ct);
        if (apiKey is null)
        {
            await s.ExecuteAsync("delete from vapi_reconciliation where clinic_id = @ClinicId", new { ClinicId = clinicId }, ct);
            return;
        }
        var (ciphertext, keyId) = Seal(clinicId, apiKey);
        await s.ExecuteAsync("""
            insert into vapi_reconciliation (clinic_id, api_key, api_key_kek, next_run_at, updated_at)
            values (@ClinicId, @Key, @KeyId, now(), now())
            on conflict (clinic_id) do update set api_key = @Key, api_key_kek = @KeyId, next_run_at = now(), failures = 0,
              last_error = null, updated_at = now()
            """, new { ClinicId = clinicId, Key = ciphertext, KeyId = keyId }, ct);
    }

    sealed record SealedKey(Guid ClinicId, byte[] ApiKey, string ApiKeyKek);

    /// <summary><c>-- rotate-keys</c>: re-seals every Vapi API key not under the current master key.</summary>
    public async Task<int> RewrapAllAsync(Db db, CancellationToken ct) =>
        await db.InTransactionAsync(RequestClaims.AsSystem(SystemPath.KeyRotation), async s =>
        {
            var rows = await s.QueryAsync<SealedKey>(
                "select clinic_id, api_key, api_key_kek from vapi_reconciliation where api_key_kek <> @Current for update",
                new { Current = keks.CurrentKeyId }, ct);
            foreach (var r in rows)
            {
                var (ciphertext, keyId) = Seal(r.ClinicId, Open(r.ClinicId, r.ApiKeyKek, r.ApiKey));
                await s.ExecuteAsync("update vapi_reconciliation set api_key = @Key, api_key_kek = @KeyId where clinic_id = @ClinicId",
                    new { r.ClinicId, Key = ciphertext, KeyId = keyId }, ct);
            }
            return rows.Count;
        }, ct);
}

/// <summary>
/// Missed webhooks (issue 15): Vapi does not retry a server message unless the assistant's
/// backoffPlan says so, so an end-of-call report lost to an outage, a network blip or an assistant
/// not subscribed would mean a caller who never gets their follow-up. For every clinic with a Vapi
/// API key this asks Vapi for the calls created in the lookback window and processes each ended
/// call with no answered end-of-call report through <see cref="VapiIntake"/> — the webhook's own
/// path — so a report that arrives later, or twice, still yields one follow-up. Due clinics are
/// claimed with FOR UPDATE SKIP LOCKED and a lease: safe on any number of instances. Runs as
/// <see cref="SystemPath.Worker"/> for its own state and as the clinic's agent for the calls.
/// </summary>
public sealed partial class VapiReconciliation(Db db, VapiApiClient vapi, VapiApiKeys keys, VapiIntake intake, VapiOptions options,
    HealthDetails health, ILogger<VapiReconciliation> log) : BackgroundService
{
    public const string HealthName = "vapiReconciliation";
    const int Batch = 8;
    static readonly TimeSpan Lease = TimeSpan.FromMinutes(10);

    readonly SemaphoreSlim _wake = new(0, 1);
    readonly Dictionary<string, string> _clinicDetails = new(StringComparer.Ordinal);
    readonly Lock _gate = new();
    string _summary = options.Reconciles ? "starting" : "off on this instance: FRONTDESK_VAPI_RECONCILE_SECONDS is 0";

    /// <summary>The /healthz detail: off (no clinic has a key, or disabled here) or on, with counts.</summary>
    public string Summary => _summary;

    /// <summary>Wakes the worker now (a key was set).</summary>
    public void Signal()
    {
        try { _wake.Release(); }
        catch (SemaphoreFullException) { /* already woken */ }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Reconciles) return;
        var poll = TimeSpan.FromSeconds(options.ReconcilePollSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var sleep = poll;
            try
            {
                while (await RunDueAsync(stoppingToken) == Batch) { }
                sleep = await RefreshHealthAsync(stoppingToken) is { } next && next < poll ? next : poll;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                // The database is away (or a bug): leases expire and state is durable, so the next pass
                // resumes. The worker itself must outlive any one failure (an escaping exception stops the host).
                Log.PassFailed(log, e.GetType().Name);
            }
            try { await _wake.WaitAsync(sleep, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
    }

    sealed record DueClinic(Guid ClinicId, byte[] ApiKey, string ApiKeyKek, int Failures, DateTimeOffset KeySince, string Name, string Timezone,
        string? SmsFrom, string? AssistantId, string? PhoneNumberId, string? Secret);

    /// <summary>Claims up to a batch of due clinics and reconciles each; returns how many were claimed.</summary>
    public async Task<int> RunDueAsync(CancellationToken ct)
    {
        var due = await db.QueryOnceAsync<DueClinic>(RequestClaims.AsSystem(SystemPath.Worker), """
            with due as (
              select clinic_id from vapi_reconciliation
              where next_run_at <= now()
              order by next_run_at
              limit @Batch
              for update skip locked
            )
            update vapi_reconciliation r set next_run_at = now() + @Lease, last_run_at = now(), updated_at = now()
            from due, clinics c
            where r.clinic_id = due.clinic_id and c.id = r.clinic_id
            returning r.clinic_id, r.api_key, r.api_key_kek, r.failures, r.created_at, c.name, c.timezone, c.sms_from,
                      c.vapi_assistant_id, c.vapi_phone_number_id, c.vapi_secret
            """, new { Batch, Lease }, ct);
        foreach (var clinic in due)
            await ReconcileAsync(clinic, ct);
        return due.Count;
    }

    async Task ReconcileAsync(DueClinic c, CancellationToken ct)
    {
        var recovered = 0;
        string? error = null;
        try
        {
            var apiKey = keys.Open(c.ClinicId, c.ApiKeyKek, c.ApiKey);
            var now = DateTimeOffset.UtcNow;
            // Never before the key was first set: connecting a clinic does not follow up its history.
            var since = now - TimeSpan.FromHours(options.ReconcileLookbackHours) is var window && window > c.KeySince ? window : c.KeySince;
            var calls = await vapi.ListCallsAsync(apiKey, since, c.AssistantId, c.PhoneNumberId, ct);
            var settledBefore = now - TimeSpan.FromSeconds(options.ReconcileGraceSeconds);
            var ended = calls.Where(call => call.Str("status") == "ended" && call.Str("id") is { Length: > 0 and <= 200 }
                                            && (VapiMessage.Time(call.Get("endedAt")) ?? VapiMessage.Time(call.Get("updatedAt"))) <= settledBefore)
                             .ToList();
            if (ended.Count > 0)
                (recovered, error) = await ProcessEndedAsync(c, ended, ct);
        }
        catch (VapiApiException e)
        {
            error = e.Message;
        }
        catch (CryptographicException)
        {
            error = "The stored API key cannot be opened with the configured master keys; set vapiApiKey again.";
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            error = $"Reading what was already answered failed ({e.GetType().Name}); retrying later.";
        }
        if (error is not null) Log.RunFailed(log, c.ClinicId, error);
        await db.QueryOnceAsync<int>(RequestClaims.AsSystem(SystemPath.Worker), """
            update vapi_reconciliation set
              next_run_at = now() + @Next,
              last_success_at = case when @Error::text is null then now() else last_success_at end,
              last_error = @Error,
              failures = case when @Error::text is null then 0 else failures + 1 end,
              recovered_last = @Recovered,
              recovered_total = recovered_total + @Recovered,
              updated_at = now()
            where clinic_id = @ClinicId and api_key = @ApiKey   -- a key replaced meanwhile runs again at once
            returning 1
            """, new
        {
            c.ClinicId, c.ApiKey, Error = error, Recovered = recovered,
            Next = error is null ? options.Interval : options.Backoff(c.Failures + 1),
        }, CancellationToken.None);
    }

    async Task<(int Recovered, string? Failed)> ProcessEndedAsync(DueClinic c, List<JsonElement> ended, CancellationToken ct)
    {
        string? failed = null;
        var clinic = new VapiClinic(c.ClinicId, c.Name, c.Timezone, c.SmsFrom, c.AssistantId, c.PhoneNumberId, c.Secret ?? "");
        var claims = RequestClaims.ForClinic(c.ClinicId, "vapi_agent", "agent");
        var answered = (await db.QueryOnceAsync<string>(claims, """
            select call_id from vapi_events
            where clinic_id = @ClinicId and type = 'end-of-call-report' and discriminator = '' and response is not null
              and call_id = any(@Ids)
            """, new { c.ClinicId, Ids = ended.Select(x => x.Str("id")!).ToArray() }, ct)).ToHashSet(StringComparer.Ordinal);
        var recovered = 0;
        foreach (var call in ended)
        {
            var id = call.Str("id")!;
            if (answered.Contains(id)) continue;
            var message = ReportFrom(call);
            // One Vapi org (and key) may serve several clinics: only this clinic's assistant or number.
            if (VapiWebhook.Mismatch(clinic, message) is not null) continue;
            try
            {
                var outcome = await intake.ProcessAsync(new VapiContext(clinic, id, VapiMessage.CustomerNumber(message), message),
                    "end-of-call-report", "", ct);
                if (outcome is IntakeOutcome.Processed { Fresh: true })
                {
                    recovered++;
                    Log.Recovered(log, c.ClinicId, id);
                }
                // Busy: a delivery of the report holds it right now and will answer it.
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Nothing of this call committed; the others go on, and the run is marked failed so it is retried.
                Log.CallFailed(log, c.ClinicId, id, e.GetType().Name);
                failed ??= $"Processing call {id} failed ({e.GetType().Name}); retrying later.";
            }
        }
        return (recovered, failed);
    }

    static readonly string[] CallSnapshot = ["id", "orgId", "type", "assistantId", "phoneNumberId", "status", "createdAt"];
    static readonly string[] ReportFields = ["endedReason", "startedAt", "endedAt", "cost", "analysis", "artifact", "customer", "phoneNumber",
        "transcript", "summary"];

    /// <summary>The end-of-call report Vapi would have sent, from its Call object: outcomes at the top,
    /// a snapshot of the call nested (legacy top-level transcript/messages become the artifact).</summary>
    public static JsonElement ReportFrom(JsonElement call)
    {
        var m = new JsonObject
        {
            ["type"] = "end-of-call-report",
            ["timestamp"] = call.Str("endedAt") ?? call.Str("updatedAt"),
            ["recoveredBy"] = "reconciliation",
        };
        foreach (var f in ReportFields)
            if (call.Get(f) is { } v) m[f] = JsonNode.Parse(v.GetRawText());
        if (m["artifact"] is null && (call.Get("transcript") is not null || call.Get("messages") is not null))
            m["artifact"] = new JsonObject
            {
                ["transcript"] = call.Get("transcript") is { } t ? JsonNode.Parse(t.GetRawText()) : null,
                ["messages"] = call.Get("messages") is { } ms ? JsonNode.Parse(ms.GetRawText()) : null,
            };
        var snapshot = new JsonObject();
        foreach (var f in CallSnapshot)
            if (call.Get(f) is { } v) snapshot[f] = JsonNode.Parse(v.GetRawText());
        m["call"] = snapshot;
        return JsonSerializer.SerializeToElement(m);
    }

    sealed record StateRow(Guid ClinicId, DateTimeOffset NextRunAt, DateTimeOffset? LastRunAt, DateTimeOffset? LastSuccessAt, string? LastError,
        int Failures, int RecoveredLast, long RecoveredTotal, int Clinics, int Failing, DateTimeOffset SoonestRun);

    /// <summary>Refreshes the health details from the shared state (every instance reports the same),
    /// failing clinics first, at most 100; returns the time until the next clinic is due.</summary>
    public async Task<TimeSpan?> RefreshHealthAsync(CancellationToken ct)
    {
        var rows = await db.QueryOnceAsync<StateRow>(RequestClaims.AsSystem(SystemPath.Worker), """
            select clinic_id, next_run_at, last_run_at, last_success_at, last_error, failures, recovered_last, recovered_total,
                   (count(*) over ())::int, (count(*) filter (where failures > 0) over ())::int, min(next_run_at) over ()
            from vapi_reconciliation
            order by failures desc, clinic_id
            limit 100
            """, null, ct);
        var details = rows.ToDictionary(r => $"{HealthName}:{r.ClinicId}", Describe, StringComparer.Ordinal);
        lock (_gate)
        {
            foreach (var gone in _clinicDetails.Keys.Where(k => !details.ContainsKey(k)).ToList())
            {
                _clinicDetails.Remove(gone);
                health.Remove(gone);
            }
            foreach (var (name, text) in details)
            {
                if (!_clinicDetails.ContainsKey(name)) health.Add(name, () => Detail(name));
                _clinicDetails[name] = text;
            }
            _summary = rows switch
            {
                [] => "off: no clinic has a Vapi API key (set vapiApiKey on the clinic)",
                [var r, ..] => string.Create(CultureInfo.InvariantCulture,
                    $"on: {r.Clinics} clinic(s) with a Vapi API key, {r.Failing} failing; every {options.ReconcileSeconds:0.##} s, {options.ReconcileLookbackHours:0.##} h back"),
            };
        }
        return rows is [var first, ..] ? first.SoonestRun - DateTimeOffset.UtcNow is var d && d > TimeSpan.Zero ? d : TimeSpan.FromMilliseconds(50) : null;
    }

    string Detail(string name)
    {
        lock (_gate) return _clinicDetails.GetValueOrDefault(name) ?? "removed";
    }

    static string Describe(StateRow r) => r.LastRunAt is null
        ? string.Create(CultureInfo.InvariantCulture, $"waiting for its first run, due {Iso(r.NextRunAt)}")
        : r.LastError is null
        ? string.Create(CultureInfo.InvariantCulture,
            $"ok: last run {Iso(r.LastRunAt)}, recovered {r.RecoveredLast} (total {r.RecoveredTotal}), next {Iso(r.NextRunAt)}")
        : string.Create(CultureInfo.InvariantCulture,
            $"failing ({r.Failures} in a row): {r.LastError} Last run {Iso(r.LastRunAt)}, last success {Iso(r.LastSuccessAt)}, recovered {r.RecoveredTotal} in total, next try {Iso(r.NextRunAt)}");

    static string Iso(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "never";

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Vapi reconciliation of clinic {ClinicId} processed call {CallId}, whose end-of-call report never arrived")]
        public static partial void Recovered(ILogger logger, Guid clinicId, string callId);

        [LoggerMessage(Level = LogLevel.Error, Message = "Vapi reconciliation of clinic {ClinicId} could not process call {CallId} ({ExceptionType})")]
        public static partial void CallFailed(ILogger logger, Guid clinicId, string callId, string exceptionType);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Vapi reconciliation of clinic {ClinicId} failed: {Error}")]
        public static partial void RunFailed(ILogger logger, Guid clinicId, string error);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Vapi reconciliation pass failed ({Error}); retrying on the next wake-up")]
        public static partial void PassFailed(ILogger logger, string error);
    }
}

public static class VapiReconciliationServices
{
    public static IServiceCollection AddVapiReconciliation(this IServiceCollection services)
    {
        services.AddOptions<VapiOptions>()
            .Configure<IConfiguration>(VapiOptions.Bind)
            .ValidateDataAnnotations()
            .Validate(VapiOptions.HasValidBaseUrl, "FRONTDESK_VAPI_API_BASE_URL must be an absolute http(s) URL.")
            .ValidateOnStart();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<VapiOptions>>().Value);
        // One client for the process; connections are recycled so a DNS change of Vapi's API is picked up.
        services.AddSingleton(sp => new VapiApiClient(
            new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = Timeout.InfiniteTimeSpan },
            sp.GetRequiredService<VapiOptions>()));
        services.AddSingleton<VapiApiKeys>();
        services.AddSingleton<VapiReconciliation>();
        services.AddHostedService(sp => sp.GetRequiredService<VapiReconciliation>());
        return services;
    }
}
