using System.ComponentModel.DataAnnotations;

namespace Frontdesk.Waitlist;

/// <summary>Waitlist tuning (configuration section <c>Waitlist</c>, e.g. <c>Waitlist__HoldMinutes</c>).</summary>
public sealed class WaitlistOptions
{
    /// <summary>How long a freed slot is held for the entry it is offered to before the next entry gets it.</summary>
    [Range(1, 1440)] public int HoldMinutes { get; set; } = 30;

    /// <summary>An entry with no latest date expires this many days after it was made.</summary>
    [Range(1, 366)] public int DefaultDays { get; set; } = 30;

    /// <summary>A slot that starts sooner than this is not offered (nobody could get there).</summary>
    [Range(0, 1440)] public int MinNoticeMinutes { get; set; } = 60;

    public TimeSpan Hold => TimeSpan.FromMinutes(HoldMinutes);
}
