# syntax=docker/dockerfile:1
# Build: the .NET 10 SDK restores and publishes the gateway (the sandbox project comes along: Sandbox mode needs it).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY DingTalk.CardGateway/DingTalk.CardGateway.csproj DingTalk.CardGateway/
COPY DingTalk.Sandbox/DingTalk.Sandbox.csproj DingTalk.Sandbox/
RUN dotnet restore DingTalk.CardGateway/DingTalk.CardGateway.csproj
COPY appsettings.json ./
COPY DingTalk.CardGateway/ DingTalk.CardGateway/
COPY DingTalk.Sandbox/ DingTalk.Sandbox/
RUN dotnet publish DingTalk.CardGateway/DingTalk.CardGateway.csproj -c Release -o /app --no-restore -p:UseAppHost=false

# Run: the ASP.NET Core runtime only, as the image's non-root 'app' user, on port 8080.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app ./
RUN mkdir -p /app/data && chown "$APP_UID" /app/data
ENV ASPNETCORE_HTTP_PORTS=8080 \
    ASPNETCORE_ENVIRONMENT=Production \
    Gateway__LogFormat=Json
VOLUME /app/data
EXPOSE 8080
USER $APP_UID
# The runtime image has no curl or wget: the gateway's own binary probes itself (README "Container"). Liveness, not
# readiness: an unready gateway (DingTalk unreachable, a Stream connection down) is not fixed by restarting it, and an
# orchestrator that replaces unhealthy containers would restart every replica through a DingTalk outage. Readiness is
# for routing: `--health-check` (= ready) in a load balancer's or Kubernetes' readiness probe. /health/live answers
# only once the schema is migrated and Kestrel listens, so healthy here means a replica can take requests.
# start-period: migration waits up to Gateway:Storage:StartupWait for the database; 3 s timeout is the command's own,
# plus the runtime's start; 3 misses in a row (30 s) before "unhealthy", so one slow GC pause is not an outage. No
# --start-interval: engines before Docker 25 refuse it, and a 10 s interval is soon enough for nginx's first wait.
HEALTHCHECK --interval=10s --timeout=10s --start-period=60s --retries=3 \
    CMD ["dotnet", "DingTalk.CardGateway.dll", "--health-check=live"]
ENTRYPOINT ["dotnet", "DingTalk.CardGateway.dll"]
