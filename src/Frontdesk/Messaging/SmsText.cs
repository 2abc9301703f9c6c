namespace Frontdesk.Messaging;

/// <summary>How Twilio will bill a body: GSM-7 when every character is in the GSM 03.38 alphabet
/// (extension characters count twice), otherwise UCS-2 in UTF-16 code units.</summary>
public static class SmsText
{
    /// <summary>Twilio's limit on a message body.</summary>
    public const int MaxLength = 1600;

    const string Basic =
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const string Extension = "^{}\\[~]|€\f";

    public static (int Segments, string Encoding) Count(string body)
    {
        var septets = 0;
        foreach (var ch in body)
        {
            if (Basic.Contains(ch, StringComparison.Ordinal)) septets += 1;
            else if (Extension.Contains(ch, StringComparison.Ordinal)) septets += 2;
            else return (Ucs2Segments(body.Length), "UCS-2");
        }
        return (septets <= 160 ? 1 : (septets + 152) / 153, "GSM-7");
    }

    static int Ucs2Segments(int units) => units <= 70 ? 1 : (units + 66) / 67;

    /// <summary>Cuts a body to Twilio's limit without splitting a surrogate pair.</summary>
    public static string Fit(string body)
    {
        if (body.Length <= MaxLength) return body;
        var cut = MaxLength - 1;
        if (char.IsHighSurrogate(body[cut - 1])) cut--;
        return body[..cut] + "…";
    }
}
