namespace Frontdesk.Tests.Infrastructure;

/// <summary>The Chromium the browser tests drive (installed by .ci/run), and how they start it.</summary>
public static class HeadlessChromium
{
    public const string Path = "/usr/bin/chromium";

    public static readonly string[] Args =
        ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

    /// <summary>Fails (never skips) with the command that installs it.</summary>
    public static void AssertInstalled() =>
        Assert.True(File.Exists(Path), $"Chromium is missing at {Path}: install it with `apt-get install -y chromium` (.ci/run does).");
}
