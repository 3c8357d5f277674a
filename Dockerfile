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
ENTRYPOINT ["dotnet", "DingTalk.CardGateway.dll"]
