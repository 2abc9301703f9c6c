using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Frontdesk.Platform;

namespace Frontdesk.Tests.Platform;

/// <summary>
/// The README's first command as a new user runs it, in a real process: from a private folder (mode
/// 700, as `mktemp -d` makes it). As root — containers, CI images, cloud shells — the cluster must run
/// as the postgres OS user, which cannot enter that folder: it used to end in a 40-line stack trace.
/// </summary>
public class FirstRunTests
{
    static string ServerDll()
    {
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var dll = Path.Combine(PgTapTests.RepoRoot(), "src", "Frontdesk", "bin", configuration, "net10.0", "Frontdesk.dll");
        Assert.True(File.Exists(dll), $"{dll} is built with the solution");
        return dll;
    }

    static string PrivateFolder()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"frontdesk-firstrun-{Guid.NewGuid():N}"[..28]);
        Directory.CreateDirectory(dir);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    static Process Start(string workingDir, IDictionary<string, string> env)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(ServerDll());
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("FRONTDESK_", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        foreach (var kv in env) psi.Environment[kv.Key] = kv.Value;
        return Process.Start(psi)!;
    }

    /// <summary>A loopback port nothing listens on (just now): for a server to bind, or for a client to find closed.</summary>
    internal static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public async Task First_run_from_a_private_folder_serves_a_healthy_development_server()
    {
        var project = PrivateFolder();
        var port = FreePort();
        var cluster = LocalPostgres.ForDataDir(Path.Combine(project, ".frontdesk"));
        using var server = Start(project, new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        });
        var stderr = server.StandardError.ReadToEndAsync();
        var stdout = server.StandardOutput.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            HttpStatusCode? status = null;
            // The seed's kind of generous bound: initdb and the migrations on a shared machine.
            for (var i = 0; i < 240 && !server.HasExited && status != HttpStatusCode.OK; i++)
            {
                try { status = (await http.GetAsync($"http://127.0.0.1:{port}/healthz")).StatusCode; }
                catch (HttpRequestException) { await Task.Delay(500); }
                catch (TaskCanceledException) { }
            }
            Assert.True(status == HttpStatusCode.OK,
                $"healthz {status}; exited {server.HasExited}; stderr: {(server.HasExited ? await stderr : "")}");
            if (LocalPostgres.RunsAsPostgresUser)
                Assert.StartsWith(LocalPostgres.SharedClustersDir, cluster.ClusterDir, StringComparison.Ordinal);
        }
        finally
        {
            if (!server.HasExited)
            {
                using var term = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                await term!.WaitForExitAsync();
                await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            }
            await cluster.StopAsync();
            var relocated = Path.GetDirectoryName(cluster.ClusterDir)!;
            foreach (var dir in relocated.StartsWith(LocalPostgres.SharedClustersDir, StringComparison.Ordinal) ? [project, relocated] : new[] { project })
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        Assert.False(await cluster.IsRunningAsync(default));
        Assert.DoesNotContain("   at ", await stderr + await stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_data_folder_the_cluster_cannot_use_stops_the_start_with_one_line()
    {
        var project = PrivateFolder();
        // A Unix socket path has at most ~100 bytes: this data folder (one others can traverse, so it is
        // not moved elsewhere for root) cannot hold the cluster.
        var tooLong = Path.Combine(Path.GetTempPath(), "frontdesk-" + new string('d', 110));
        try
        {
            using var server = Start(project, new Dictionary<string, string> { ["FRONTDESK_DATA_DIR"] = tooLong, ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{FreePort()}" });
            var stderr = server.StandardError.ReadToEndAsync();
            var stdout = server.StandardOutput.ReadToEndAsync();
            await server.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
            Assert.Equal(1, server.ExitCode);
            var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.StartsWith("Frontdesk cannot start: The data folder path is too long for a Unix socket", lines[0], StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", await stdout, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var dir in new[] { project, tooLong })
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
