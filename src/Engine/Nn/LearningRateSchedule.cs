namespace Engine.Nn;

/// <summary>Learning-rate schedules as functions of the step (0-based).</summary>
public static class LearningRateSchedule
{
    /// <summary>
    /// Linear warm-up to <paramref name="maxLr"/> over <paramref name="warmupSteps"/> steps
    /// (step s gets maxLr * (s + 1) / warmupSteps), then a cosine decay to <paramref name="minLr"/>
    /// at <paramref name="totalSteps"/>; minLr after that.
    /// </summary>
    public static double WarmupCosine(int step, double maxLr, double minLr, int warmupSteps, int totalSteps)
    {
        if (step < warmupSteps)
            return maxLr * (step + 1) / warmupSteps;
        if (step >= totalSteps || totalSteps <= warmupSteps)
            return minLr;
        double progress = (double)(step - warmupSteps) / (totalSteps - warmupSteps);
        double coefficient = 0.5 * (1.0 + Math.Cos(Math.PI * progress));
        return minLr + coefficient * (maxLr - minLr);
    }
}
