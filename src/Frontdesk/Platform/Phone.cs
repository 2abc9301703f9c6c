using PhoneNumbers;

namespace Frontdesk.Platform;

public static class Phone
{
    static readonly PhoneNumberUtil Util = PhoneNumberUtil.GetInstance();

    /// <summary>E.164, or null when the number is not a valid number. Numbers without a + are read
    /// in the clinic's region first, then GB and US.</summary>
    public static string? ToE164(string? input, string? defaultRegion = null)
    {
        if (string.IsNullOrWhiteSpace(input) || input.Length > 40) return null;
        foreach (var region in new[] { defaultRegion, "GB", "US" }.Where(r => r is not null).Distinct())
        {
            try
            {
                var number = Util.Parse(input, region);
                if (Util.IsValidNumber(number)) return Util.Format(number, PhoneNumberFormat.E164);
            }
            catch (NumberParseException)
            {
                // Try the next region.
            }
        }
        return null;
    }

    /// <summary>The region a clinic's local numbers are dialled in, from its timezone.</summary>
    public static string? RegionForTimezone(string? timezone) => timezone switch
    {
        null => null,
        "Europe/London" or "Europe/Belfast" => "GB",
        "Europe/Dublin" => "IE",
        _ when timezone.StartsWith("America/", StringComparison.Ordinal) || timezone.StartsWith("US/", StringComparison.Ordinal) => "US",
        _ when timezone.StartsWith("Australia/", StringComparison.Ordinal) => "AU",
        _ => null,
    };
}
