namespace Frontdesk.Platform;

public sealed record HealthView(string Status, bool Database, IReadOnlyList<string> PendingMigrations, IDictionary<string, string> Details);

/// <summary>Named checks that features register (e.g. "sms": "not configured").</summary>
public sealed class HealthDetails
{
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, Func<string>> _checks = new();
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, Func<CancellationToken, Task<string>>> _asyncChecks = new();
    public void Add(string name, Func<string> check) => _checks[name] = check;
    /// <summary>A check that asks the database (run only once the database answered).</summary>
    public void Add(string name, Func<CancellationToken, Task<string>> check) => _asyncChecks[name] = check;
    public void Remove(string name)
    {
        _checks.TryRemove(name, out _);
        _asyncChecks.TryRemove(name, out _);
    }
    public IDictionary<string, string> Snapshot() => _checks.ToDictionary(kv => kv.Key, kv => kv.Value());

    public async Task<IDictionary<string, string>> SnapshotAsync(CancellationToken ct)
    {
        var all = Snapshot();
        foreach (var (name, check) in _asyncChecks)
        {
            try { all[name] = await check(ct); }
            catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
            {
                all[name] = "unknown: " + e.GetType().Name;
            }
        }
        return all;
    }
}

public static class Health
{
    public static void MapHealth(this IEndpointRouteBuilder app) =>
        app.MapGet("/healthz", Check).WithTags("Health").AllowAnonymous();

    static async Task<Results<Ok<HealthView>, JsonHttpResult<HealthView>>> Check(Db db, HealthDetails details, CancellationToken ct)
    {
        IReadOnlyList<string> pending;
        try
        {
            await using var s = await db.BeginAsync(RequestClaims.AsSystem(SystemPath.Health), ct);
            pending = await Migrator.PendingAsync(await s.ConnectionAsync(ct), ct);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return TypedResults.Json(new HealthView("unavailable", false, [], details.Snapshot()), statusCode: 503);
        }
        var view = new HealthView(pending.Count == 0 ? "ok" : "migrations pending", true, pending, await details.SnapshotAsync(ct));
        return pending.Count == 0 ? TypedResults.Ok(view) : TypedResults.Json(view, statusCode: 503);
    }
}
