using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Frontdesk.Calls;
using Frontdesk.Knowledge;
using Frontdesk.Tenancy;

namespace Frontdesk.Latency;

public sealed record LatencyBuckets(double Under200, double From200to500, double From500to800, double Over800);

public sealed record StagePercentiles(double? P50, double? P95, double? P99);

public sealed record LatencyReport(int Turns, LatencyBuckets Buckets, double? P50, double? P95, double? P99, IReadOnlyDictionary<string, StagePercentiles> Stages);

sealed record LatencyRow(int Turns, double Under200, double From200to500, double From500to800, double Over800,
    double? P50, double? P95, double? P99,
    double? ModelP50, double? ModelP95, double? ModelP99, double? VoiceP50, double? VoiceP95, double? VoiceP99,
    double? TranscriberP50, double? TranscriberP95, double? TranscriberP99, double? EndpointingP50, double? EndpointingP95, double? EndpointingP99);

/// <summary>
/// Stores Vapi's per-turn latencies from every end-of-call report (<c>artifact.performanceMetrics.turnLatencies[]</c>)
/// and reports the distribution the caller felt. A repeated report adds nothing (primary key per call and turn).
/// </summary>
public sealed partial class TurnLatencyRecorder(Db db, ILogger<TurnLatencyRecorder> log) : IVapiMessageHandler
{
    /// <summary>The seed's bar: p95 under 700 ms. Above it over the clinic's recent turns → a warning.</summary>
    public const double P95WarningMs = 700;
    public const int RollingTurns = 200;

    static readonly Histogram<double> Turn = FrontdeskMeter.Meter.CreateHistogram<double>("frontdesk.turn.latency", "ms",
        "Per-turn latency reported by Vapi, tagged by stage (turn, model, voice, transcriber, endpointing)");

    public string Type => "end-of-call-report";

    public async Task<object?> HandleAsync(VapiContext context, CancellationToken ct)
    {
        var m = context.Message;
        var callId = context.CallId ?? (m.TryGetProperty("call", out var call) ? KnowledgeSpeech.Str(call, "id") : null);
        if (string.IsNullOrEmpty(callId)) return null;
        if (!(m.TryGetProperty("artifact", out var artifact) && artifact.ValueKind == JsonValueKind.Object
              && artifact.TryGetProperty("performanceMetrics", out var metrics) && metrics.ValueKind == JsonValueKind.Object
              && metrics.TryGetProperty("turnLatencies", out var turns) && turns.ValueKind == JsonValueKind.Array))
            return null;   // older assistants and failed calls report no metrics: nothing to store

        var count = turns.GetArrayLength();
        if (count == 0) return null;
        double?[] Stage(string name) => [.. turns.EnumerateArray().Select(t =>
            t.ValueKind == JsonValueKind.Object && t.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.GetDouble() is >= 0 and < 3_600_000 and var d ? d : (double?)null)];
        var turn = Stage("turnLatency");
        var model = Stage("modelLatency");
        var voice = Stage("voiceLatency");
        var transcriber = Stage("transcriberLatency");
        var endpointing = Stage("endpointingLatency");
        var endedAt = KnowledgeSpeech.Str(m, "endedAt") is { } e && DateTimeOffset.TryParse(e, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : DateTimeOffset.UtcNow;

        // In the report's claim transaction when there is one, so a retried report stores its turns once.
        Task<int> Insert(DbSession s) => s.ExecuteAsync("""
            insert into call_turn_latencies (clinic_id, call_id, turn, turn_ms, model_ms, voice_ms, transcriber_ms, endpointing_ms, call_ended_at)
            select @ClinicId, @CallId, x.n - 1, x.t, x.m, x.v, x.tr, x.e, @EndedAt
            from unnest(@Turn::float8[], @Model::float8[], @Voice::float8[], @Transcriber::float8[], @Endpointing::float8[])
                 with ordinality as x(t, m, v, tr, e, n)
            on conflict (clinic_id, call_id, turn) do nothing
            """, new { ClinicId = context.Clinic.Id, CallId = callId, Turn = turn, Model = model, Voice = voice, Transcriber = transcriber, Endpointing = endpointing, EndedAt = endedAt }, ct);
        var inserted = context.Session is { } session ? await Insert(session) : await db.InTransactionAsync(context.Claims, Insert, ct);
        if (inserted == 0) return null;   // a repeated report

        for (var i = 0; i < count; i++)
        {
            RecordStage("turn", turn[i]);
            RecordStage("model", model[i]);
            RecordStage("voice", voice[i]);
            RecordStage("transcriber", transcriber[i]);
            RecordStage("endpointing", endpointing[i]);
        }
        const string RecentSql = """
            select percentile_cont(0.95) within group (order by turn_ms) from (
              select turn_ms from call_turn_latencies where clinic_id = @ClinicId and turn_ms is not null
              order by call_ended_at desc limit @Limit) recent
            """;
        var recentArgs = new { ClinicId = context.Clinic.Id, Limit = RollingTurns };
        var recent = context.Session is { } open
            ? await open.QueryAsync<double?>(RecentSql, recentArgs, ct)
            : await db.QueryOnceAsync<double?>(context.Claims, RecentSql, recentArgs, ct);
        var rollingP95 = recent.Count > 0 ? recent[0] : null;
        if (rollingP95 > P95WarningMs)
            Log.P95Exceeded(log, context.Clinic.Id, Math.Round(rollingP95.Value), RollingTurns);
        return null;
    }

    static void RecordStage(string stage, double? ms)
    {
        if (ms is { } v) Turn.Record(v, new KeyValuePair<string, object?>("stage", stage));
    }

    public static void MapLatency(IEndpointRouteBuilder app) =>
        app.MapGroup("/api/clinics/{clinicId:guid}").WithTags("Latency")
            .RequireAuthorization(Auth.Policies.Member)
            .AddEndpointFilter(ClinicScope.RouteFilter)
            .MapGet("/latency", Report);

    /// <summary>Buckets: under200 = [0, 200), from200to500 = [200, 500), from500to800 = [500, 800],
    /// over800 = (800, ∞), as fractions of the turns with a turn latency; percentiles are continuous.</summary>
    internal static async Task<Results<Ok<LatencyReport>, ProblemHttpResult>> Report(Guid clinicId, DateTimeOffset? from, DateTimeOffset? to, HttpContext http, Db db, CancellationToken ct)
    {
        if (from is not null && to is not null && from > to) return Problems.Invalid("from must not be after to.");
        var rows = await db.QueryOnceAsync<LatencyRow>(http.Claims(), """
            select count(turn_ms)::int,
                   coalesce(avg(case when turn_ms < 200 then 1.0 else 0 end) filter (where turn_ms is not null), 0)::float8,
                   coalesce(avg(case when turn_ms >= 200 and turn_ms < 500 then 1.0 else 0 end) filter (where turn_ms is not null), 0)::float8,
                   coalesce(avg(case when turn_ms >= 500 and turn_ms <= 800 then 1.0 else 0 end) filter (where turn_ms is not null), 0)::float8,
                   coalesce(avg(case when turn_ms > 800 then 1.0 else 0 end) filter (where turn_ms is not null), 0)::float8,
                   percentile_cont(0.5) within group (order by turn_ms), percentile_cont(0.95) within group (order by turn_ms),
                   percentile_cont(0.99) within group (order by turn_ms),
                   percentile_cont(0.5) within group (order by model_ms), percentile_cont(0.95) within group (order by model_ms),
                   percentile_cont(0.99) within group (order by model_ms),
                   percentile_cont(0.5) within group (order by voice_ms), percentile_cont(0.95) within group (order by voice_ms),
                   percentile_cont(0.99) within group (order by voice_ms),
                   percentile_cont(0.5) within group (order by transcriber_ms), percentile_cont(0.95) within group (order by transcriber_ms),
                   percentile_cont(0.99) within group (order by transcriber_ms),
                   percentile_cont(0.5) within group (order by endpointing_ms), percentile_cont(0.95) within group (order by endpointing_ms),
                   percentile_cont(0.99) within group (order by endpointing_ms)
            from call_turn_latencies
            where clinic_id = @ClinicId
              and (@From::timestamptz is null or call_ended_at >= @From)
              and (@To::timestamptz is null or call_ended_at < @To)
            """, new { ClinicId = clinicId, From = from, To = to }, ct);
        var r = rows[0];
        static double? R(double? v) => v is { } x ? Math.Round(x, 1) : null;
        return TypedResults.Ok(new LatencyReport(r.Turns,
            new LatencyBuckets(Math.Round(r.Under200, 4), Math.Round(r.From200to500, 4), Math.Round(r.From500to800, 4), Math.Round(r.Over800, 4)),
            R(r.P50), R(r.P95), R(r.P99),
            new Dictionary<string, StagePercentiles>
            {
                ["model"] = new(R(r.ModelP50), R(r.ModelP95), R(r.ModelP99)),
                ["voice"] = new(R(r.VoiceP50), R(r.VoiceP95), R(r.VoiceP99)),
                ["transcriber"] = new(R(r.TranscriberP50), R(r.TranscriberP95), R(r.TranscriberP99)),
                ["endpointing"] = new(R(r.EndpointingP50), R(r.EndpointingP95), R(r.EndpointingP99)),
            }));
    }

    static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Clinic {ClinicId}: rolling p95 turn latency {P95Ms} ms over the last {Turns} turns exceeds 700 ms")]
        public static partial void P95Exceeded(ILogger logger, Guid clinicId, double p95Ms, int turns);
    }
}

public static class LatencyFeature
{
    public static IServiceCollection AddTurnLatency(this IServiceCollection services) =>
        services.AddSingleton<IVapiMessageHandler, TurnLatencyRecorder>();

    public static void MapTurnLatency(this IEndpointRouteBuilder app) => TurnLatencyRecorder.MapLatency(app);
}
