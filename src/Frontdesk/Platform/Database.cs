using Npgsql;

namespace Frontdesk.Platform;

/// <summary>
/// Decides where the database is, starts the private cluster when none is configured, applies
/// migrations when asked, and builds the one NpgsqlDataSource request paths use.
/// </summary>
public sealed class DatabaseHost : IAsyncDisposable
{
    public required string AdminConnectionString { get; init; }
    public required NpgsqlDataSource DataSource { get; init; }
    public LocalPostgres? Local => Owner.Local;
    public required OwnerDatabase Owner { get; init; }

    public static async Task<DatabaseHost> StartAsync(FrontdeskOptions options, bool isDevelopment, ILogger log, CancellationToken ct)
    {
        var owner = await OwnerDatabase.OpenAsync(options, log, ct);
        try
        {
            string app;
            if (owner.Local is { } local)
                app = local.AppConnectionString();
            else if (string.IsNullOrWhiteSpace(options.AppDatabaseUrl))
                throw new StartupException(AppLoginRequired);
            else
                app = ToConnectionString(options.AppDatabaseUrl);

            if (options.MigrateOnStart ?? (owner.Local is not null || isDevelopment))
            {
                var applied = await Migrator.ApplyAsync(owner.ConnectionString, ct);
                if (applied.Count > 0) log.LogInformation("Applied {Count} migrations", applied.Count);
            }

            return new DatabaseHost { AdminConnectionString = owner.ConnectionString, DataSource = BuildDataSource(app), Owner = owner };
        }
        catch
        {
            await owner.DisposeAsync();
            throw;
        }
    }

    public const string AppLoginRequired =
        "FRONTDESK_APP_DATABASE_URL is required with FRONTDESK_DATABASE_URL: request paths log in as frontdesk_app, " +
        "never as the owner. Give it a password with `-- app-login --password-stdin` (README, \"Deploy on Supabase\").";

    public static NpgsqlDataSource BuildDataSource(string connectionString)
    {
        var csb = new NpgsqlConnectionStringBuilder(connectionString)
        {
            // Safe because every setting we make is transaction-local (set_config(..., true)):
            // a pooled connection never carries a clinic into the next request, so the per-checkout
            // DISCARD ALL buys nothing and costs a statement.
            NoResetOnClose = true,
            // The admin string the app login may be derived from disables pooling (migrations);
            // request paths always pool.
            Pooling = true,
            // Request paths repeat a few hundred statement shapes; preparing them once per
            // connection skips parse and plan on every call (the tenant preamble included) —
            // unless the connection string says otherwise: behind a transaction pooler (Supabase's
            // port 6543) a prepared statement does not outlive the transaction, so the URL carries
            // MaxAutoPrepare=0 there (README, "Deploy on Supabase").
            MaxAutoPrepare = SetsMaxAutoPrepare(connectionString) ? new NpgsqlConnectionStringBuilder(connectionString).MaxAutoPrepare : 256,
            AutoPrepareMinUsages = 2,
        };
        if (csb.MaxPoolSize == 100) csb.MaxPoolSize = 150;
        var builder = new NpgsqlDataSourceBuilder(csb.ConnectionString);
        return builder.Build();
    }

    static bool SetsMaxAutoPrepare(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        return given.Keys.Cast<string>().Any(k => k.Replace(" ", "", StringComparison.Ordinal).Equals("MaxAutoPrepare", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Accepts postgres:// URLs (Supabase, Heroku style) and Npgsql connection strings.</summary>
    public static string ToConnectionString(string value)
    {
        if (!value.StartsWith("postgres://", StringComparison.Ordinal) && !value.StartsWith("postgresql://", StringComparison.Ordinal))
            return value;
        var uri = new Uri(value);
        var csb = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')) is { Length: > 0 } db ? db : "postgres",
        };
        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0) csb.Username = Uri.UnescapeDataString(userInfo[0]);
        if (userInfo.Length > 1) csb.Password = Uri.UnescapeDataString(userInfo[1]);
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]);
            var val = kv.Length > 1 ? Uri.UnescapeDataString(kv[1]) : "";
            if (key == "sslmode") csb.SslMode = Enum.Parse<SslMode>(val.Replace("-", "", StringComparison.Ordinal), ignoreCase: true);
            else csb[key] = val;
        }
        return csb.ConnectionString;
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        await Owner.DisposeAsync();
    }
}

/// <summary>
/// The owner's connection (migrations, operator commands): the configured URL, or the private cluster.
/// A cluster this process started is stopped when it is disposed; one it found running is left
/// running, because it belongs to whoever started it — typically a Frontdesk serving beside an
/// operator's `-- migrate` or `-- rotate-keys`.
/// </summary>
public sealed class OwnerDatabase : IAsyncDisposable
{
    public required string ConnectionString { get; init; }
    public LocalPostgres? Local { get; init; }
    public bool StartedHere { get; init; }

    public static async Task<OwnerDatabase> OpenAsync(FrontdeskOptions options, ILogger log, CancellationToken ct)
    {
        if (!string.IsNullOrWhiteSpace(options.DatabaseUrl))
            return new OwnerDatabase { ConnectionString = DatabaseHost.ToConnectionString(options.DatabaseUrl) };
        var local = LocalPostgres.ForDataDir(options.DataDir);
        log.LogInformation("Private PostgreSQL cluster in {Dir}", local.ClusterDir);
        var started = await local.StartAsync(durable: true, ct);
        return new OwnerDatabase { ConnectionString = local.AdminConnectionString(), Local = local, StartedHere = started };
    }

    public async ValueTask DisposeAsync()
    {
        if (Local is not null && StartedHere) await Local.StopAsync();
    }
}
