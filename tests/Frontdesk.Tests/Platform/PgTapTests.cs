using System.Diagnostics;
using Frontdesk.Tests.Infrastructure;
using Npgsql;

namespace Frontdesk.Tests.Platform;

/// <summary>Runs supabase/tests/*.sql with pg_prove against the test cluster, so `dotnet test` covers
/// the pgTAP suite too. Missing pgTAP fails with the install command; it is never skipped.</summary>
public class PgTapTests
{
    [Fact]
    public async Task pgTAP_suite_passes() => await AssertSuitePassesAsync(await TestCluster.AdminConnectionStringAsync());

    /// <summary>Where `supabase test db` runs it: as postgres (no superuser) under Supabase's default
    /// privileges, after `db push` — the privilege checks of 005_privileges.sql matter most here.</summary>
    [Fact]
    public async Task pgTAP_suite_passes_on_a_Supabase_shaped_database() =>
        await AssertSuitePassesAsync((await SupabaseCluster.DatabaseAsync()).AdminConnectionString);

    static async Task AssertSuitePassesAsync(string adminConnectionString)
    {
        var root = RepoRoot();
        var files = Directory.GetFiles(Path.Combine(root, "supabase", "tests"), "*.sql").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        var csb = new NpgsqlConnectionStringBuilder(adminConnectionString);

        var psi = new ProcessStartInfo("pg_prove") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-h", csb.Host!, "-p", csb.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", csb.Username!, "-d", csb.Database! })
            psi.ArgumentList.Add(a);
        if (!string.IsNullOrEmpty(csb.Password)) psi.Environment["PGPASSWORD"] = csb.Password;
        foreach (var f in files) psi.ArgumentList.Add(f);
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail("pg_prove is not installed: apt-get install -y postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl");
            return;
        }
        var output = await p.StandardOutput.ReadToEndAsync() + await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (output.Contains("could not open extension control file", StringComparison.Ordinal))
            Assert.Fail("pgTAP is not installed in this PostgreSQL: apt-get install -y postgresql-15-pgtap\n" + output);
        Assert.True(p.ExitCode == 0, output);
        Assert.Contains("Result: PASS", output, StringComparison.Ordinal);
    }

    internal static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Frontdesk.slnx"))) return d.FullName;
        throw new InvalidOperationException("Frontdesk.slnx not found above " + AppContext.BaseDirectory);
    }
}
