using System.Collections.Concurrent;
using System.Data.Common;
using System.Linq.Expressions;
using System.Reflection;
using System.Text.Json;
using Npgsql;

namespace Frontdesk.Platform;

/// <summary>Who a database statement runs for: the JWT claims PostgreSQL's policies read.</summary>
public sealed record RequestClaims(string Role, Guid? ClinicId, string? Subject, string? AppRole)
{
    public const string Authenticated = "authenticated";
    public const string ServiceRole = "service_role";

    public bool IsService => Role == ServiceRole;

    /// <summary>One of the named <see cref="SystemPath"/>s, not a caller's token.</summary>
    public bool IsSystemPath => IsService && Subject?.StartsWith(SystemSubjectPrefix, StringComparison.Ordinal) == true;

    /// <summary>A named system path running as service_role (BYPASSRLS). Every caller is listed in
    /// SystemPaths so the bypasses can be reviewed in one place.</summary>
    public static RequestClaims AsSystem(SystemPath path) => new(ServiceRole, null, SystemSubjectPrefix + path, null);

    const string SystemSubjectPrefix = "system:";

    public static RequestClaims ForClinic(Guid clinicId, string subject, string? appRole = null) =>
        new(Authenticated, clinicId, subject, appRole);

    public string Actor => Subject ?? Role;

    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("role", Role);
            if (Subject is not null) w.WriteString("sub", Subject);
            if (ClinicId is { } c) w.WriteString("org_id", c);
            if (AppRole is not null) w.WriteString("app_role", AppRole);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }
}

/// <summary>Every path that runs as service_role (BYPASSRLS), in one place (ARCHITECTURE decision 3).</summary>
public enum SystemPath
{
    /// <summary>Creating clinics and their first data for a service_role token or the dev bootstrap.</summary>
    AdminBootstrap,
    /// <summary>Resolving which clinic an unauthenticated provider webhook belongs to.</summary>
    WebhookClinicResolution,
    /// <summary>Background workers (outbox, calendar) that act for every clinic.</summary>
    Worker,
    /// <summary>Signature-verified provider callbacks (Twilio delivery status, inbound STOP/START)
    /// that find the clinic's rows by provider ids or the receiving number.</summary>
    ProviderCallback,
    /// <summary>Health check: reads the migration table.</summary>
    Health,
    /// <summary>`-- rotate-keys`: re-wraps every clinic's patient data keys under the current master key.</summary>
    KeyRotation,
    /// <summary>The audit sealer (Audit/AuditSealer.cs): links committed audit rows into each clinic's
    /// hash chain through security-definer functions; the role itself keeps INSERT/SELECT only on the trail.</summary>
    AuditSealer,
    /// <summary>Outbox counts across clinics for /healthz and metrics (numbers only, no row contents).</summary>
    Monitoring,
    /// <summary>The retention worker: purges call content past each clinic's retention, minimises
    /// leads that never converted, and seals personal values stored before issue 13 (every clinic).</summary>
    Retention,
    /// <summary>Console sign-in: finds the (clinic, account) ids of an email before any clinic is known.
    /// Only those two ids are read this way; the account itself is read under the clinic's claims.
    /// A SECURITY DEFINER function would be exposed to anon/authenticated through Supabase's RPC
    /// as an email → clinic oracle; granted to service_role only it would add nothing over this path.</summary>
    ConsoleSignIn,
}

/// <summary>
/// The only way request code reaches PostgreSQL. Each session is one transaction that runs as the
/// token's role with its claims; both are set transaction-locally in the same batch as the first
/// statement, so tenant context costs no extra round trip (ARCHITECTURE decision 4).
/// </summary>
public sealed class Db(NpgsqlDataSource dataSource)
{
    public NpgsqlDataSource DataSource { get; } = dataSource;

    /// <summary>Raised after a session commits, once per topic it marked with <see cref="DbSession.Changed"/>
    /// (e.g. "bookings"): how workers are woken after commit instead of by NOTIFY in the writer's transaction.</summary>
    public event Action<string>? Committed;

    internal void RaiseCommitted(string topic) => Committed?.Invoke(topic);

    /// <summary>Per-clinic share of the pool for tenant sessions (issue 16); null = unlimited (bench tools).</summary>
    public ClinicGate? Gate { get; init; }

    /// <summary>The current HTTP request, so sessions a request opens while it holds its clinic's turn
    /// do not queue for a second one (see <see cref="ClinicGate.EnterAsync(Guid, HttpContext?, CancellationToken)"/>).</summary>
    public IHttpContextAccessor? Requests { get; init; }

    /// <summary>A turn from the clinic's gate for a tenant session; null for system paths.</summary>
    ValueTask<IDisposable?> TurnAsync(RequestClaims claims, CancellationToken ct) =>
        claims.ClinicId is { } clinic && Gate is { } gate ? Wrap(gate.EnterAsync(clinic, Requests?.HttpContext, ct)) : ValueTask.FromResult<IDisposable?>(null);

    static async ValueTask<IDisposable?> Wrap(ValueTask<IDisposable> turn) => await turn;

    public async Task<DbSession> BeginAsync(RequestClaims claims, CancellationToken ct)
    {
        var turn = await TurnAsync(claims, ct);
        NpgsqlConnection conn;
        try
        {
            conn = await DataSource.OpenConnectionAsync(ct);
        }
        catch
        {
            turn?.Dispose();
            throw;
        }
        try
        {
            // Npgsql defers BEGIN and sends it with the first command: no round trip here.
            var tx = await conn.BeginTransactionAsync(ct);
            return new DbSession(conn, tx, claims) { Owner = this, Turn = turn };
        }
        catch
        {
            await conn.DisposeAsync();
            turn?.Dispose();
            throw;
        }
    }

    /// <summary>One statement in one round trip: claims, role and the statement in a single batch,
    /// run in PostgreSQL's implicit transaction (the settings end with it).</summary>
    public async Task<IReadOnlyList<T>> QueryOnceAsync<T>(RequestClaims claims, string sql, object? args, CancellationToken ct)
    {
        using var turn = await TurnAsync(claims, ct);
        await using var conn = await DataSource.OpenConnectionAsync(ct);
        await using var session = new DbSession(conn, null, claims);
        return await session.QueryAsync<T>(sql, args, ct);
    }

    /// <summary>Runs <paramref name="work"/> in a tenant transaction and commits it.</summary>
    public async Task<T> InTransactionAsync<T>(RequestClaims claims, Func<DbSession, Task<T>> work, CancellationToken ct)
    {
        await using var session = await BeginAsync(claims, ct);
        var result = await work(session);
        await session.CommitAsync(ct);
        return result;
    }
}

public sealed class DbSession : IAsyncDisposable
{
    const string ContextSql = "select set_config('request.jwt.claims', $1, true), set_config('role', $2, true)";

    readonly NpgsqlConnection _conn;
    readonly NpgsqlTransaction? _tx;
    readonly RequestClaims _claims;
    bool _contextSent;
    bool _failed;

    internal DbSession(NpgsqlConnection conn, NpgsqlTransaction? tx, RequestClaims claims)
    {
        _conn = conn;
        _tx = tx;
        _claims = claims;
    }

    public RequestClaims Claims => _claims;

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? args = null, CancellationToken ct = default)
    {
        var map = RowMapper<T>.Map;
        return await RunAsync(sql, args, async (reader, _) =>
        {
            var rows = new List<T>();
            while (await reader.ReadAsync(ct)) rows.Add(map(reader));
            return rows;
        }, ct);
    }

    public async Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? args = null, CancellationToken ct = default)
    {
        var rows = await QueryAsync<T>(sql, args, ct);
        return rows.Count switch
        {
            0 => default,
            1 => rows[0],
            _ => throw new InvalidOperationException("The query returned more than one row."),
        };
    }

    /// <returns>Rows affected.</returns>
    public Task<int> ExecuteAsync(string sql, object? args = null, CancellationToken ct = default) =>
        RunAsync(sql, args, async (reader, cmd) =>
        {
            while (await reader.ReadAsync(ct)) { }
            await reader.CloseAsync();
            return cmd.RecordsAffected;
        }, ct);

    /// <summary>The raw connection, for what this class does not wrap (COPY, LISTEN). The tenant
    /// context is sent first so nothing runs without it.</summary>
    public async Task<NpgsqlConnection> ConnectionAsync(CancellationToken ct)
    {
        if (!_contextSent)
            await ExecuteAsync("select 1", null, ct);
        return _conn;
    }

    public NpgsqlTransaction? Transaction => _tx;

    internal Db? Owner { get; init; }

    /// <summary>The clinic's turn (ClinicGate), given back when the session is disposed.</summary>
    internal IDisposable? Turn { get; init; }

    HashSet<string>? _changed;

    /// <summary>Tells <see cref="Db.Committed"/> subscribers that this transaction changed
    /// <paramref name="topic"/>, once it has committed (never on rollback).</summary>
    public void Changed(string topic) => (_changed ??= new(StringComparer.Ordinal)).Add(topic);

    public async Task CommitAsync(CancellationToken ct)
    {
        if (_tx is not null) await _tx.CommitAsync(ct);
        foreach (var action in _afterCommit ?? []) action();
        _afterCommit = null;
        if (_changed is { } topics && Owner is { } db)
        {
            _changed = null;
            foreach (var t in topics) db.RaiseCommitted(t);
        }
    }

    List<Action>? _afterCommit;

    /// <summary>Runs <paramref name="action"/> once this transaction has committed (e.g. wake a worker
    /// for a job it wrote); dropped when it rolls back. For work written by code that does not commit.</summary>
    public void AfterCommit(Action action) => (_afterCommit ??= []).Add(action);

    async Task<TResult> RunAsync<TResult>(string sql, object? args, Func<NpgsqlDataReader, NpgsqlBatchCommand, Task<TResult>> read, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(_conn, _tx);
        var withContext = !_contextSent;
        if (withContext)
        {
            var ctx = new NpgsqlBatchCommand(ContextSql);
            ctx.Parameters.Add(new NpgsqlParameter { Value = _claims.ToJson() });
            ctx.Parameters.Add(new NpgsqlParameter { Value = _claims.Role });
            batch.BatchCommands.Add(ctx);
        }
        var cmd = new NpgsqlBatchCommand(sql);
        ParameterBinder.Bind(cmd.Parameters, args);
        batch.BatchCommands.Add(cmd);

        try
        {
            await using var reader = await batch.ExecuteReaderAsync(ct);
            if (withContext)
            {
                _contextSent = true;
                await reader.NextResultAsync(ct);
            }
            return await read(reader, cmd);
        }
        catch (Exception e)
        {
            _failed = true;
            // A system path's statements carry no client input: its failures are ours (HttpPipeline keeps them 500).
            if (_claims.IsSystemPath) e.Data[HttpPipeline.SystemPathKey] = _claims.Subject;
            throw;
        }
    }

    /// <summary>
    /// Rolls back what was not committed and returns the connection to the pool — only in a state
    /// we can vouch for. After a failed statement the connection's prepared-statement cache cannot be
    /// trusted: a statement being auto-prepared when the server refused its parameters (a NUL in a
    /// text value, 22021, fails at Bind) is recorded by Npgsql without its row description, and every
    /// later execution of that statement on that connection fails with "Received unexpected backend
    /// message DataRow" (issue 14; DbFailureTests reproduces it). So a failed session resets the
    /// connection (DEALLOCATE ALL, which also clears Npgsql's side); if even that fails, the
    /// connection is taken out of the pool instead of being handed to the next request.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_tx is not null) await _tx.DisposeAsync();
            // Npgsql has no async form of this; it is one short round trip, on failure paths only.
            if (_failed && _conn.State == System.Data.ConnectionState.Open)
                _conn.UnprepareAll();
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            // A broken connector is discarded by Npgsql on close; a healthy one that refused the
            // reset must not be reused either.
            NpgsqlConnection.ClearPool(_conn);
        }
        finally
        {
            try
            {
                await _conn.DisposeAsync();
            }
            finally
            {
                Turn?.Dispose();
            }
        }
    }
}

/// <summary>Binds an anonymous object's properties as named parameters (@Name in SQL).</summary>
static class ParameterBinder
{
    static readonly ConcurrentDictionary<Type, PropertyInfo[]> Props = new();

    public static void Bind(NpgsqlParameterCollection parameters, object? args)
    {
        if (args is null) return;
        foreach (var p in Props.GetOrAdd(args.GetType(), t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)))
        {
            var value = p.GetValue(args);
            parameters.Add(value switch
            {
                NpgsqlParameter given => Named(given, p.Name),
                DateTimeOffset dto => new NpgsqlParameter(p.Name, dto.ToUniversalTime()),
                DateTime { Kind: DateTimeKind.Unspecified } dt => new NpgsqlParameter(p.Name, DateTime.SpecifyKind(dt, DateTimeKind.Utc)),
                null => new NpgsqlParameter(p.Name, DBNull.Value) { NpgsqlDbType = NullType(p.PropertyType) },
                _ => new NpgsqlParameter(p.Name, value),
            });
        }
    }

    static NpgsqlParameter Named(NpgsqlParameter p, string name)
    {
        p.ParameterName = name;
        return p;
    }

    // A typed null, so `@X is null` and comparisons type-check on the server.
    static NpgsqlTypes.NpgsqlDbType NullType(Type t) => (Nullable.GetUnderlyingType(t) ?? t) switch
    {
        var x when x == typeof(Guid) => NpgsqlTypes.NpgsqlDbType.Uuid,
        var x when x == typeof(int) => NpgsqlTypes.NpgsqlDbType.Integer,
        var x when x == typeof(long) => NpgsqlTypes.NpgsqlDbType.Bigint,
        var x when x == typeof(bool) => NpgsqlTypes.NpgsqlDbType.Boolean,
        var x when x == typeof(double) => NpgsqlTypes.NpgsqlDbType.Double,
        var x when x == typeof(DateTime) || x == typeof(DateTimeOffset) => NpgsqlTypes.NpgsqlDbType.TimestampTz,
        var x when x == typeof(byte[]) => NpgsqlTypes.NpgsqlDbType.Bytea,
        _ => NpgsqlTypes.NpgsqlDbType.Text,
    };
}

/// <summary>
/// Maps a row to a positional record by column position (the record's primary constructor), or a
/// single column to a scalar. Compiled once per type.
/// </summary>
static class RowMapper<T>
{
    // Declared before Map: static initializers run in text order.
    static readonly MethodInfo IsDbNull = typeof(DbDataReader).GetMethod(nameof(DbDataReader.IsDBNull), [typeof(int)])!;
    static readonly MethodInfo GetFieldValue = typeof(DbDataReader).GetMethod(nameof(DbDataReader.GetFieldValue), [typeof(int)])!;

    public static readonly Func<DbDataReader, T> Map = Build();

    static Func<DbDataReader, T> Build()
    {
        var reader = Expression.Parameter(typeof(DbDataReader), "r");
        var t = typeof(T);
        if (IsScalar(t))
            return Expression.Lambda<Func<DbDataReader, T>>(Read(reader, t, 0), reader).Compile();

        var ctor = t.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();
        var args = ctor.GetParameters().Select((p, i) => Read(reader, p.ParameterType, i));
        return Expression.Lambda<Func<DbDataReader, T>>(Expression.New(ctor, args), reader).Compile();
    }

    static bool IsScalar(Type t)
    {
        var u = Nullable.GetUnderlyingType(t) ?? t;
        return u.IsPrimitive || u == typeof(string) || u == typeof(Guid) || u == typeof(decimal)
               || u == typeof(DateTime) || u == typeof(DateTimeOffset) || u == typeof(byte[]) || u.IsArray
               || u == typeof(JsonElement);
    }

    static ConditionalExpression Read(ParameterExpression reader, Type type, int ordinal)
    {
        var index = Expression.Constant(ordinal);
        var underlying = Nullable.GetUnderlyingType(type);
        if (type == typeof(JsonElement) || underlying == typeof(JsonElement))
        {
            var parse = typeof(RowMapper<T>).GetMethod(nameof(ParseJson), BindingFlags.NonPublic | BindingFlags.Static)!;
            Expression json = Expression.Call(parse, Expression.Call(reader, GetFieldValue.MakeGenericMethod(typeof(string)), index));
            if (underlying is not null) json = Expression.Convert(json, type);
            return Expression.Condition(Expression.Call(reader, IsDbNull, index), Expression.Default(type), json);
        }
        var value = Expression.Call(reader, GetFieldValue.MakeGenericMethod(underlying ?? type), index);
        Expression converted = underlying is null ? value : Expression.Convert(value, type);
        return Expression.Condition(Expression.Call(reader, IsDbNull, index), Expression.Default(type), converted);
    }

    static JsonElement ParseJson(string s)
    {
        using var doc = JsonDocument.Parse(s);
        return doc.RootElement.Clone();
    }
}
