namespace Frontdesk.Platform;

/// <summary>Operator commands: <c>dotnet run --project src/Frontdesk -- migrate</c>.</summary>
public static class Commands
{
    public static async Task<int> MigrateAsync(string[] args)
    {
        var config = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args.Skip(1).ToArray()).Build();
        var options = FrontdeskOptions.From(config);
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole());
        var log = loggers.CreateLogger("Frontdesk.Migrate");
        options.MigrateOnStart = true;
        await using var db = await DatabaseHost.StartAsync(options, isDevelopment: false, log, CancellationToken.None);
        var pending = await Migrator.PendingAsync(await db.DataSource.OpenConnectionAsync(), CancellationToken.None);
        Console.WriteLine(pending.Count == 0 ? "Migrations are current." : $"Still pending: {string.Join(", ", pending)}");
        return pending.Count == 0 ? 0 : 1;
    }
}
