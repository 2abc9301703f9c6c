using System.Text.RegularExpressions;

namespace Frontdesk.Privacy;

/// <summary>Takes personal values out of provider texts before they are stored or logged.</summary>
public static partial class Scrub
{
    /// <summary>Phone-number-like runs (7+ characters of digits, spaces, dots, dashes, brackets, an
    /// optional +) become "[number]": Twilio's error messages quote the recipient ("The 'To' number
    /// +44… is not a valid phone number."). Error codes (5 digits) stay.</summary>
    public static string Numbers(string text) => PhoneLike().Replace(text, "[number]");

    [GeneratedRegex(@"\+?\d[\d ().-]{5,}\d")]
    private static partial Regex PhoneLike();
}
