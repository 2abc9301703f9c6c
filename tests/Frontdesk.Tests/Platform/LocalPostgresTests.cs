using System.Diagnostics;
using Frontdesk.Platform;

namespace Frontdesk.Tests.Platform;

/// <summary>The private cluster's housekeeping that runs before every test run and server start.</summary>
public class LocalPostgresTests
{
    static async Task<int> DeadPidAsync()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await p.WaitForExitAsync();
        return p.Id;
    }

    [Fact]
    public async Task Sweeping_removes_the_folders_of_processes_that_are_gone_and_keeps_live_and_foreign_ones()
    {
        var prefix = $"frontdesk-sweep-{Guid.NewGuid():N}"[..28] + "-";
        var dead = Path.Combine(Path.GetTempPath(), prefix + await DeadPidAsync());
        var mine = Path.Combine(Path.GetTempPath(), prefix + Environment.ProcessId);
        using var live = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        var alive = Path.Combine(Path.GetTempPath(), prefix + live.Id);
        var notOurs = Path.Combine(Path.GetTempPath(), prefix + "notes");
        try
        {
            foreach (var d in new[] { dead, mine, alive, notOurs })
            {
                Directory.CreateDirectory(Path.Combine(d, "data"));
                await File.WriteAllTextAsync(Path.Combine(d, "data", "jwt-secret"), "x");
            }

            LocalPostgres.SweepStale(prefix);

            Assert.False(Directory.Exists(dead), "a dead process's folder was kept");
            Assert.True(Directory.Exists(mine), "this process's own folder was removed");
            Assert.True(Directory.Exists(alive), "a running process's folder was removed");
            Assert.True(Directory.Exists(notOurs), "a folder not named by a process id was removed");
        }
        finally
        {
            live.Kill();
            foreach (var d in new[] { dead, mine, alive, notOurs })
                if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
        }
    }

    [Fact]
    public async Task A_data_folder_too_deep_for_a_Unix_socket_stops_the_start_with_what_to_do_and_creates_nothing()
    {
        var top = Path.Combine(Path.GetTempPath(), "frontdesk-deep-" + Guid.NewGuid().ToString("N"));
        var deep = Path.Combine(top, new string('d', 60), "pg");
        var e = await Assert.ThrowsAsync<StartupException>(() => LocalPostgres.For(deep).StartAsync(durable: false, CancellationToken.None));
        Assert.StartsWith($"The data folder path is too long for a Unix socket ({deep}/.s.PGSQL.", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("set FRONTDESK_DATA_DIR to a shorter path.", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(top), "initdb ran for a cluster nobody could connect to");
    }
}
