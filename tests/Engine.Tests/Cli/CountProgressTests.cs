using Engine.Cli;

namespace Engine.Tests;

// The item-count progress line of the retrieval commands. The clock is given, so nothing here
// depends on time passing.
public sealed class CountProgressTests
{
    [Fact]
    public void The_line_shows_count_bar_rate_elapsed_and_eta()
    {
        var progress = new CountProgress("search", 200, output: TextWriter.Null);

        string line = progress.Format(50, TimeSpan.FromSeconds(10));

        Assert.Equal("search  50/200 [######..................]  25.0% | 5/s | 00:00:10 elapsed | ETA 00:00:30", line);
        Assert.EndsWith("-/s | 00:00:00 elapsed | ETA --:--:--", progress.Format(0, TimeSpan.Zero));
    }

    [Fact]
    public void Redirected_output_gets_a_line_per_tenth_and_a_terminal_one_throttled_redrawn_line()
    {
        var log = new StringWriter();
        var redirected = new CountProgress("latency", 100, output: log, redraw: false, elapsed: () => TimeSpan.FromSeconds(1));
        for (int i = 1; i <= 100; i++)
            redirected.Update(i);
        // One line on starting (0%) and one at each tenth: 11.
        Assert.Equal(11, log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        var terminal = new StringWriter();
        var clock = TimeSpan.Zero;
        var drawn = new CountProgress("latency", 3, output: terminal, redraw: true, elapsed: () => clock);
        drawn.Update(1);
        drawn.Update(2);
        clock = TimeSpan.FromSeconds(1);
        drawn.Update(3);
        drawn.Finish();
        string text = terminal.ToString();
        Assert.Equal(2, text.Count(c => c == '\r'));
        Assert.EndsWith("\n", text);
        Assert.Contains("3/3", text);
    }
}
