namespace Frontdesk.Bench;

/// <summary>
/// The bench tool. Every command is a class implementing IBenchCommand; adding one is adding a file.
/// An explicit entry class (not top-level statements) so its name does not clash with the
/// service's global Program for the tests, which reference both.
/// </summary>
public static class BenchMain
{
    public static async Task<int> Main(string[] args)
    {
        var commands = typeof(IBenchCommand).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IBenchCommand).IsAssignableFrom(t))
            .Select(t => (IBenchCommand)Activator.CreateInstance(t)!)
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();

        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine("usage: dotnet run --project bench/Frontdesk.Bench -c Release -- <command> [args]");
            foreach (var c in commands) Console.WriteLine($"  {c.Name,-22} {c.Summary}");
            return args.Length == 0 ? 2 : 0;
        }

        var rest = args.Skip(1).ToArray();
        // Two-word commands ("load claim") are matched before one-word ones.
        var (command, commandArgs) = commands.FirstOrDefault(c => rest.Length > 0 && c.Name == $"{args[0]} {rest[0]}") is { } two
            ? (two, rest.Skip(1).ToArray())
            : (commands.FirstOrDefault(c => c.Name == args[0]), rest);
        if (command is null)
        {
            await Console.Error.WriteLineAsync($"unknown command '{string.Join(' ', args.Take(2))}'; run with --help");
            return 2;
        }
        return await command.RunAsync(commandArgs);
    }
}

public interface IBenchCommand
{
    /// <summary>One or two words, e.g. "pii-eval" or "load claim".</summary>
    string Name { get; }
    string Summary { get; }
    Task<int> RunAsync(string[] args);
}
