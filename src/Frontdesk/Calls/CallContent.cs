using System.Text.Json;

namespace Frontdesk.Calls;

/// <summary>
/// The personal part of a call, sealed as one value in <c>calls.content</c> under the caller's data
/// key. Everything else an end-of-call report carries is dropped (the assistant's configuration, the
/// start-of-call snapshot, the OpenAI-formatted duplicate of the messages, cost breakdowns): what the
/// product needs is in calls' structured columns, the per-turn latencies in call_turn_latencies.
/// </summary>
public sealed record CallContent(
    string? CustomerNumber, string? CustomerName, string? Transcript, JsonElement? Messages, string? Summary,
    string? RecordingUrl, string? StereoRecordingUrl, JsonElement? StructuredData, string? SuccessEvaluation)
{
    public const string Table = "calls";

    public bool IsEmpty => CustomerNumber is null && CustomerName is null && Transcript is null && Messages is null && Summary is null
                           && RecordingUrl is null && StereoRecordingUrl is null && StructuredData is null && SuccessEvaluation is null;

    /// <summary>From an end-of-call report as Vapi sends it: artifact members first, then the older
    /// top-level ones.</summary>
    public static CallContent From(JsonElement report) => new(
        VapiMessage.CustomerNumber(report),
        report.Str("customer", "name") ?? report.Str("call", "customer", "name"),
        report.Str("artifact", "transcript") ?? report.Str("transcript"),
        Array(report.Get("artifact", "messages")) ?? Array(report.Get("messages")),
        report.Str("analysis", "summary") ?? report.Str("summary"),
        report.Str("artifact", "recordingUrl") ?? report.Str("recordingUrl") ?? report.Str("artifact", "recording", "mono", "combinedUrl"),
        report.Str("artifact", "stereoRecordingUrl") ?? report.Str("stereoRecordingUrl") ?? report.Str("artifact", "recording", "stereoUrl"),
        report.Get("analysis", "structuredData") is { ValueKind: JsonValueKind.Object } sd ? sd.Clone() : null,
        report.Str("analysis", "successEvaluation"));

    static JsonElement? Array(JsonElement? e) => e is { ValueKind: JsonValueKind.Array } a ? a.Clone() : null;
}
