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
}
