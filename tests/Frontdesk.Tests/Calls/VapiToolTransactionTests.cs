using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Frontdesk.Calls;
using Frontdesk.Platform;
using Frontdesk.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using static Frontdesk.Tests.Calls.VapiPayloads;

namespace Frontdesk.Tests.Calls;

/// <summary>An effect tool as a new feature would write one: it records a row for the caller through
/// the tool call's transaction. It can die mid-tool (an instance crash: an unexpected exception after
/// writing) or refuse after writing (a spoken error).</summary>
sealed class NoteTool : IVapiEffectTool
{
    public readonly ConcurrentDictionary<string, int> Invocations = new();
    public readonly ConcurrentDictionary<string, bool> CrashOnce = new();

    public string Name => "leave_note";

    public async Task<string> InvokeAsync(VapiContext context, JsonElement arguments, CancellationToken ct)
    {
        var text = arguments.Str("text") ?? "";
        Invocations.AddOrUpdate(text, 1, (_, n) => n + 1);
        await context.Transaction.ExecuteAsync("insert into patients (clinic_id, name, phone) values (@ClinicId, @Name, @Phone)",
            new { ClinicId = context.Clinic.Id, Name = text, Phone = context.CustomerNumber }, ct);
        if (CrashOnce.TryRemove(text, out _)) throw new InvalidOperationException("the instance died mid-tool");
        if (arguments.Str("refuse") == "yes") throw new VapiToolException("I can't leave that note.");
        return $"Noted: {text}.";
    }
}

/// <summary>Issue 15: a tool's work and the tool call's stored answer commit together; a new effect
/// tool gets this, and the per-call de-duplication, by implementing <see cref="IVapiEffectTool"/>.</summary>
public class VapiToolTransactionTests : IAsyncLifetime
{
    readonly NoteTool _tool = new();
    WebApplicationFactory<Program> _app = null!;

    public Task InitializeAsync()
    {
        _app = TestApp.Factory.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddSingleton<IVapiTool>(_tool)));
        _app.CreateClient().Dispose();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    async Task<HttpResponseMessage> SendAsync(string secret, object payload)
    {
        using var client = _app.CreateClient();
        client.DefaultRequestHeaders.Add("X-Vapi-Secret", secret);
        return await client.PostAsJsonAsync("/vapi/webhook", payload);
    }

    static Task<long> NotesAsync(Guid clinic, string name) =>
        TestApp.ScalarAsync<long>("select count(*) from patients where clinic_id = $1 and name = $2", clinic, name);

    [Fact]
    public async Task A_tool_that_dies_after_writing_commits_nothing_and_its_retry_runs_once()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 0);
        var phone = TwilioFixture.NewPhone();
        var call = NewCall();
        var note = "call me back " + Guid.NewGuid().ToString("N")[..6];
        _tool.CrashOnce[note] = true;

        var died = await SendAsync(secret, ToolCall(call, phone, "call_n1", "leave_note", new { text = note }));
        Assert.Equal(HttpStatusCode.InternalServerError, died.StatusCode);
        Assert.Equal(0L, await NotesAsync(clinic.Id, note));
        Assert.Equal(0L, await TestApp.ScalarAsync<long>("select count(*) from vapi_events where clinic_id = $1 and call_id = $2", clinic.Id, call));

        var retried = Result(await TwilioFixture.JsonAsync(await SendAsync(secret, ToolCall(call, phone, "call_n1", "leave_note", new { text = note }))));
        Assert.Equal(($"Noted: {note}.", false), retried);
        var again = Result(await TwilioFixture.JsonAsync(await SendAsync(secret, ToolCall(call, phone, "call_n1", "leave_note", new { text = note }))));
        var reissued = Result(await TwilioFixture.JsonAsync(await SendAsync(secret, ToolCall(call, phone, "call_n2", "leave_note", new { text = note }))));
        Assert.Equal(retried, again);
        Assert.Equal(retried, reissued);
        Assert.Equal(1L, await NotesAsync(clinic.Id, note));
        Assert.Equal(2, _tool.Invocations[note]);   // the crash and the one retry that did the work
    }

    [Fact]
    public async Task A_spoken_error_undoes_what_the_tool_wrote_and_an_effect_in_between_makes_the_same_request_new()
    {
        var (clinic, secret) = await TwilioFixture.ClinicAsync(slots: 0);
        var phone = TwilioFixture.NewPhone();
        var call = NewCall();
        var note = "refused " + Guid.NewGuid().ToString("N")[..6];

        var refused = Result(await TwilioFixture.JsonAsync(await SendAsync(secret, ToolCall(call, phone, "call_r1", "leave_note", new { text = note, refuse = "yes" }))));
        Assert.Equal(("I can't leave that note.", true), refused);
        Assert.Equal(0L, await NotesAsync(clinic.Id, note));
        // The same tool call again: its stored answer, the tool is not run.
        Assert.Equal(refused, Result(await TwilioFixture.JsonAsync(await SendAsync(secret, ToolCall(call, phone, "call_r1", "leave_note", new { text = note, refuse = "yes" })))));
        Assert.Equal(1, _tool.Invocations[note]);

        // note A, note B, note A: the second A is a new request (another effect ran in between).
        var other = note + " other";
        Result(await TwilioFixture.JsonAsync(await SendAsync(secret, ToolCall(call, phone, "call_a1", "leave_note", new { text = note }))));
        Result(await TwilioFixture.JsonAsync(await SendAsync(secret, ToolCall(call, phone, "call_a2", "leave_note", new { text = note }))));
        Result(await TwilioFixture.JsonAsync(await SendAsync(secret, ToolCall(call, phone, "call_b1", "leave_note", new { text = other }))));
        Result(await TwilioFixture.JsonAsync(await SendAsync(secret, ToolCall(call, phone, "call_a3", "leave_note", new { text = note }))));
        Assert.Equal(2L, await NotesAsync(clinic.Id, note));
        Assert.Equal(1L, await NotesAsync(clinic.Id, other));
    }

    [Fact]
    public void The_effect_key_ignores_member_order_and_padding_but_not_values()
    {
        static JsonElement J(string s) => JsonDocument.Parse(s).RootElement;
        Assert.Equal(VapiIntake.EffectKey("t", J("""{"a":1,"b":" x "}""")), VapiIntake.EffectKey("t", J("""{ "b": "x", "a": 1 }""")));
        Assert.NotEqual(VapiIntake.EffectKey("t", J("""{"a":1}""")), VapiIntake.EffectKey("t", J("""{"a":2}""")));
        Assert.NotEqual(VapiIntake.EffectKey("t", J("""{"a":[1,2]}""")), VapiIntake.EffectKey("u", J("""{"a":[1,2]}""")));
    }
}
