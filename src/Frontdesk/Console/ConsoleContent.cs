using Frontdesk.Calls;
using Frontdesk.FollowUp;
using Frontdesk.Messaging;
using Frontdesk.Privacy;

namespace Frontdesk.StaffConsole;

/// <summary>
/// The one place the console opens sealed personal content (issue 13's vault): a call's number, name,
/// summary and transcript, a lead's name and number, a message's text. Each is opened under the
/// caller's data key in the page's own tenant session; an erased caller's content opens to null.
/// </summary>
public static class ConsoleContent
{
    public static Task<CallContent?> CallAsync(DbSession s, Vault vault, Guid clinicId, byte[]? callerHash, string callId, byte[]? content,
        CancellationToken ct) =>
        vault.OpenForCallerAsync<CallContent>(s, clinicId, callerHash, CallContent.Table, callId, content, ct);

    public static Task<LeadContact?> LeadAsync(DbSession s, Vault vault, Guid clinicId, byte[]? phoneHash, Guid? leadId, byte[]? content,
        CancellationToken ct) =>
        leadId is { } id ? vault.OpenForCallerAsync<LeadContact>(s, clinicId, phoneHash, LeadContact.Table, id.ToString(), content, ct) : Task.FromResult<LeadContact?>(null);

    public static Task<SmsContent?> MessageAsync(DbSession s, Vault vault, Guid messageId, CancellationToken ct) =>
        SmsContent.OpenAsync(s, vault, messageId, ct);

    /// <summary>The hash that names a phone number's caller in this clinic (calls, messages, opt-outs are found by it).</summary>
    public static Task<byte[]> CallerHashAsync(DbSession s, Vault vault, Guid clinicId, string e164, CancellationToken ct) =>
        vault.CallerHashAsync(s, clinicId, CallerSubject.Phone(e164), ct);
}
