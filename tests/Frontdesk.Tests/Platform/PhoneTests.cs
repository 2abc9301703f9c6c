using Frontdesk.Platform;

namespace Frontdesk.Tests.Platform;

public class PhoneTests
{
    [Theory]
    [InlineData("+447911123456", null, "+447911123456")]
    [InlineData("07911 123456", "GB", "+447911123456")]
    [InlineData("(202) 555-0143", "US", "+12025550143")]
    [InlineData("+1-202-555-1234", null, "+12025551234")]
    [InlineData("12", "GB", null)]
    [InlineData("", "GB", null)]
    public void Numbers_normalize_to_E164_or_null(string input, string? region, string? expected) =>
        Assert.Equal(expected, Phone.ToE164(input, region));
}
