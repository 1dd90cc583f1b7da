using Engine.Cli;

namespace Engine.Tests;

// The training progress line: its fields, in-place redraw on a terminal, a line per update when
// redirected. The clock is given, so nothing here depends on time passing.
public sealed class ProgressBarTests
{
    [Fact]
    public void The_line_shows_step_loss_rate_elapsed_and_eta()
    {
        var bar = new ProgressBar(totalSteps: 1000, tokensPerStep: 4 * 64, output: TextWriter.Null);

        string line = bar.Format(250, 3.14159f, 3.5f, TimeSpan.FromSeconds(10));

        Assert.StartsWith("step  250/1000 [######..................]", line);
        Assert.Contains("loss 3.1416", line);
        Assert.Contains("val 3.5000", line);
        Assert.Contains("6400 tok/s", line);
        Assert.Contains("00:00:10 elapsed", line);
        Assert.EndsWith("ETA 00:00:30", line);
    }

    [Fact]
    public void A_resumed_run_counts_rate_and_eta_from_its_first_step()
    {
        var bar = new ProgressBar(totalSteps: 100, tokensPerStep: 1000, firstStep: 50, output: TextWriter.Null);

        Assert.EndsWith("--:--:--", bar.Format(50, 2f, null, TimeSpan.Zero));
        string line = bar.Format(60, 2f, null, TimeSpan.FromSeconds(5));
        Assert.Contains("2000 tok/s", line);
        Assert.EndsWith("ETA 00:00:20", line);
    }

    [Fact]
    public void On_a_terminal_one_line_is_redrawn_and_when_redirected_each_update_is_a_line()
    {
        var terminal = new StringWriter();
        var log = new StringWriter();
        var clock = TimeSpan.FromSeconds(1);
        var redrawn = new ProgressBar(10, 1, output: terminal, redraw: true, elapsed: () => clock);
        var lines = new ProgressBar(10, 1, output: log, redraw: false, elapsed: () => clock);

        foreach (var bar in new[] { redrawn, lines })
        {
            bar.Update(1, 5f);
            bar.Update(2, 4f, 4.5f);
            bar.Update(3, 3f);
            bar.Finish();
        }

        Assert.Equal(3, terminal.ToString().Count(c => c == '\r'));
        Assert.Equal(1, terminal.ToString().Count(c => c == '\n'));
        var written = log.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, written.Length);
        Assert.DoesNotContain('\r', log.ToString().Replace(Environment.NewLine, ""));
        // The third update is shorter than the second (no val): spaces cover the rest.
        string[] frames = terminal.ToString().TrimEnd('\n', '\r').Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(frames[1].Length, frames[2].Length);
    }
}
