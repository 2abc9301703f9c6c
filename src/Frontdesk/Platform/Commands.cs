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

    /// <summary><c>-- rotate-keys</c>: re-wraps every patient data key under FRONTDESK_MASTER_KEY, unwrapping
    /// with the keys in FRONTDESK_MASTER_KEYS_RETIRED. Ciphertexts are not touched.</summary>
    public static async Task<int> RotateKeysAsync(string[] args)
    {
        await using var app = Frontdesk.FrontdeskApp.Build(args);
        var vault = app.Services.GetRequiredService<Frontdesk.Privacy.Vault>();
        var count = await vault.RewrapAllAsync(app.Services.GetRequiredService<Db>(), CancellationToken.None);
        Console.WriteLine($"Re-wrapped {count} patient data keys under {app.Services.GetRequiredService<Frontdesk.Privacy.IKeyEncryptionKeys>().CurrentKeyId}.");
        var vapiKeys = await app.Services.GetRequiredService<Frontdesk.Calls.VapiApiKeys>().RewrapAllAsync(app.Services.GetRequiredService<Db>(), CancellationToken.None);
        Console.WriteLine($"Re-sealed {vapiKeys} Vapi API keys.");
        return 0;
    }
}
