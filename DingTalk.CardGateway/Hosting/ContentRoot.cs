namespace DingTalk.CardGateway.Hosting;

/// <summary>
/// The folder holding <c>appsettings.json</c>: the repo root (whether <c>dotnet run</c> starts in it or in
/// the project folder), <c>/app</c> in the container, else the build output, which carries a copy.
/// </summary>
public static class ContentRoot
{
    public static string Find()
    {
        var cwd = Directory.GetCurrentDirectory();
        string?[] candidates = [cwd, Path.GetDirectoryName(cwd)]; // the repo root, or the project folder inside it
        return candidates.FirstOrDefault(dir => dir is not null && File.Exists(Path.Combine(dir, "appsettings.json")))
            ?? AppContext.BaseDirectory;
    }
}
