using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Frontdesk.Platform;
using Npgsql;

namespace Frontdesk.Tests.Infrastructure;

/// <summary>
/// A throwaway cluster shaped like a Supabase project (issue 12), so the suite sees what a deployment
/// sees: <c>supabase_admin</c> the only superuser; <c>postgres</c> demoted to NOSUPERUSER CREATEDB
/// CREATEROLE LOGIN REPLICATION BYPASSRLS and a member of anon, authenticated and service_role; the
/// default privileges that grant ALL on every new table, function and sequence in public to the API
/// roles (for objects made by postgres and by supabase_admin); auth.uid/role/email/jwt owned by
/// supabase_auth_admin in a schema owned by supabase_admin; pgcrypto, uuid-ossp, pg_stat_statements
/// and pgtap in schema extensions; scram-sha-256 logins over TCP on loopback. Written from Supabase's
/// published init scripts and GoTrue's migrations, not copied from them.
/// Then it is deployed the way the README's "Deploy on Supabase" says: `supabase db push` as postgres
/// (<see cref="SupabaseDbPush"/>) and `-- app-login --password-stdin` for frontdesk_app.
/// </summary>
public static class SupabaseCluster
{
    static readonly Lazy<Task<TestDatabase>> Started = new(StartAsync);

    public static Task<TestDatabase> DatabaseAsync() => Started.Value;

    /// <summary>The cluster's own superuser over its Unix socket: fixture set-up only, never a Frontdesk login.</summary>
    public static string SuperuserConnectionString { get; private set; } = "";

    public static int Port { get; private set; }

    static async Task<TestDatabase> StartAsync()
    {
        LocalPostgres.SweepStale("frontdesk-supabase-test-");
        var dir = Path.Combine("/tmp", $"frontdesk-supabase-test-{Environment.ProcessId}");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        Port = FreePort();
        var pg = LocalPostgres.For(Path.Combine(dir, "pg"), new LocalPostgres.Setup
        {
            SuperUser = "supabase_admin",
            Database = "postgres",
            Port = Port,
            Settings =
            [
                "listen_addresses = '127.0.0.1'",
                "password_encryption = 'scram-sha-256'",
                "shared_preload_libraries = 'pg_stat_statements'",
            ],
            Hba = """
                # Supabase-shaped test cluster: the fixture's superuser over the socket inside this folder;
                # every other login with scram-sha-256, as Supabase's remote connections.
                local  all  supabase_admin                trust
                local  all  all                           scram-sha-256
                host   all  all             127.0.0.1/32  scram-sha-256
                host   all  all             ::1/128       scram-sha-256
                """,
        });
        await pg.StartAsync(durable: false, CancellationToken.None);
        TestCluster.StopAtExit(pg, dir);
        SuperuserConnectionString = pg.AdminConnectionString();

        PostgresPassword = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        AppPassword = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        await RunAsSuperuserAsync("postgres", RolesSql.Replace("@postgres_password", PostgresPassword, StringComparison.Ordinal));
        return await NewProjectAsync("postgres");
    }

    public static string PostgresPassword { get; private set; } = "";

    /// <summary>frontdesk_app's password: roles are cluster-wide, so every project database here shares it.</summary>
    public static string AppPassword { get; private set; } = "";

    /// <summary>
    /// A database set up like a new Supabase project's <c>postgres</c> database, then deployed as the
    /// README says: `supabase db push` as postgres and `-- app-login --password-stdin`.
    /// </summary>
    public static async Task<TestDatabase> NewProjectAsync(string database, bool deploy = true)
    {
        if (database != "postgres")
        {
            await Started.Value;
            await RunAsSuperuserAsync("postgres", $"create database \"{database}\" owner postgres");
        }
        await RunAsSuperuserAsync(database, ProjectSql);
        var admin = $"Host=127.0.0.1;Port={Port};Username=postgres;Password={PostgresPassword};Database={database}";
        var app = $"Host=127.0.0.1;Port={Port};Username=frontdesk_app;Password={AppPassword};Database={database}";
        if (!deploy) return new TestDatabase("supabase", admin, app);
        await SupabaseDbPush.PushAsync(admin, MigrationsDir);
        var exit = await Commands.AppLoginAsync(
            ["app-login", Commands.PasswordStdin, "--FRONTDESK_DATABASE_URL", admin, "--FRONTDESK_APP_DATABASE_URL", app],
            new StringReader(AppPassword + "\n"));
        if (exit != 0) throw new InvalidOperationException("app-login failed on the Supabase-shaped cluster");
        return new TestDatabase("supabase", admin, app);
    }

    public static string MigrationsDir => Path.Combine(Platform.PgTapTests.RepoRoot(), "supabase", "migrations");

    static async Task RunAsSuperuserAsync(string database, string sql)
    {
        await using var conn = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(SuperuserConnectionString) { Database = database }.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Supabase's roles (cluster-wide), run once as supabase_admin.</summary>
    const string RolesSql = """
        -- postgres is created already demoted (Supabase demotes it after its init scripts).
        alter role supabase_admin with superuser createdb createrole replication bypassrls;
        create role postgres nosuperuser createdb createrole login replication bypassrls password '@postgres_password';
        alter database postgres owner to postgres;
        create role anon nologin inherit;
        create role authenticated nologin inherit;
        create role service_role nologin inherit bypassrls;
        create role authenticator login noinherit;
        grant anon, authenticated, service_role to authenticator;
        create role supabase_auth_admin noinherit createrole login noreplication;
        grant anon, authenticated, service_role to postgres;
        grant supabase_auth_admin to postgres;
        alter role anon set statement_timeout = '3s';
        alter role authenticated set statement_timeout = '8s';
        alter role authenticator set statement_timeout = '8s';
        alter role authenticator set lock_timeout = '8s';
        alter role supabase_admin set search_path = "$user", public, auth, extensions;
        alter role postgres set search_path = "$user", public, extensions;
        """;

    /// <summary>A project database's schemas, extensions and privileges, run as supabase_admin in it.</summary>
    const string ProjectSql = """
        -- Extensions live in their own schema.
        create schema extensions;
        create extension "uuid-ossp" with schema extensions;
        create extension pgcrypto with schema extensions;
        create extension pg_stat_statements with schema extensions;
        create extension pgtap with schema extensions;   -- what `supabase test db` installs
        grant usage on schema extensions to postgres, anon, authenticated, service_role;
        grant all on schema extensions to postgres;
        grant all privileges on all tables in schema extensions to postgres with grant option;
        grant all privileges on all routines in schema extensions to postgres with grant option;
        grant all privileges on all sequences in schema extensions to postgres with grant option;

        -- The API roles get everything new in public, whoever of postgres and supabase_admin makes it.
        grant usage on schema public to postgres, anon, authenticated, service_role;
        alter default privileges for role postgres in schema public grant all on tables to postgres, anon, authenticated, service_role;
        alter default privileges for role postgres in schema public grant all on functions to postgres, anon, authenticated, service_role;
        alter default privileges for role postgres in schema public grant all on sequences to postgres, anon, authenticated, service_role;
        alter default privileges for role supabase_admin in schema public grant all on tables to postgres, anon, authenticated, service_role;
        alter default privileges for role supabase_admin in schema public grant all on functions to postgres, anon, authenticated, service_role;
        alter default privileges for role supabase_admin in schema public grant all on sequences to postgres, anon, authenticated, service_role;

        -- Auth (GoTrue's schema): the claim functions, owned by supabase_auth_admin.
        create schema auth authorization supabase_admin;
        create function auth.uid() returns uuid language sql stable as $$
          select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid $$;
        create function auth.role() returns text language sql stable as $$
          select coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text $$;
        create function auth.email() returns text language sql stable as $$
          select coalesce(nullif(current_setting('request.jwt.claim.email', true), ''),
                          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email'))::text $$;
        create function auth.jwt() returns jsonb language sql stable as $$
          select coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                          nullif(current_setting('request.jwt.claims', true), ''))::jsonb $$;
        alter function auth.uid() owner to supabase_auth_admin;
        alter function auth.role() owner to supabase_auth_admin;
        alter function auth.email() owner to supabase_auth_admin;
        alter function auth.jwt() owner to supabase_auth_admin;
        grant usage on schema auth to anon, authenticated, service_role;
        grant all on schema auth to supabase_auth_admin, postgres;
        grant all on all routines in schema auth to postgres;
        """;
}

/// <summary>A database the suite runs Frontdesk against: the owner's login (migrations, test set-up)
/// and the request-path login the service is given as FRONTDESK_APP_DATABASE_URL.</summary>
public sealed record TestDatabase(string Name, string AdminConnectionString, string AppConnectionString);
