namespace Frontdesk.FollowUp;

/// <summary>The personal part of a lead, sealed in <c>leads.content</c> under the caller's data key;
/// <c>leads.phone_hash</c> names the key and finds the lead by number.</summary>
public sealed record LeadContact(string Phone, string? Name)
{
    public const string Table = "leads";
}
