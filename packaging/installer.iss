; Inno Setup 6 script for the Nexus Desktop installer: per user, no administrator rights.
; Compiled by `python packaging/build.py --installer`, which passes the version from
; pyproject.toml and the folder PyInstaller built:
;   iscc /DAppVersion=X.Y.Z "/DAppFolder=dist\Nexus Desktop" /Odist\installer packaging\installer.iss

#ifndef AppVersion
  #error Pass the version from pyproject.toml: /DAppVersion=X.Y.Z (packaging/build.py does).
#endif
#ifndef AppFolder
  #define AppFolder "..\dist\Nexus Desktop"
#endif

#define AppName "Nexus Desktop"
#define AppExe "Nexus Desktop.exe"
; The value under HKCU\...\Run that "start at login" writes (nexus_desktop/autostart.py).
#define RunValue "Nexus Desktop"
#define RunKey "Software\Microsoft\Windows\CurrentVersion\Run"
#define StartupApprovedKey "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"

[Setup]
AppId={{6F1C2B7E-3D4A-4E8B-9C5D-2A7F0E1B3C4D}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
VersionInfoVersion={#AppVersion}
AppPublisher={#AppName}
DefaultDirName={localappdata}\Programs\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per-user: installs under the user's profile, no UAC prompt.
PrivilegesRequired=lowest
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0.17763
OutputBaseFilename=NexusDesktop-{#AppVersion}-setup
SetupIconFile=..\resources\nexus.ico
UninstallDisplayIcon={app}\{#AppExe}
Compression=lzma2/max
SolidCompression=yes
; The CPU build stays far below the 4.2 GB a single setup file can hold; a CUDA build
; would need DiskSpanning=yes.
DiskSpanning=no
WizardStyle=modern
CloseApplications=yes

[Tasks]
Name: "startatlogin"; Description: "Start {#AppName} when I sign in"; GroupDescription: "Start-up:"; Flags: unchecked

[Files]
Source: "{#AppFolder}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"

[Registry]
; The same value the app's own "start at login" setting writes and removes.
Root: HKCU; Subkey: "{#RunKey}"; ValueType: string; ValueName: "{#RunValue}"; ValueData: """{app}\{#AppExe}"""; Tasks: startatlogin; Flags: uninsdeletevalue

[Run]
Filename: "{app}\{#AppExe}"; Description: "Start {#AppName} now"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; End a running app first, so its files can be removed (its database survives being
; stopped at any moment: every acknowledged write is on disk).
Filename: "{sys}\taskkill.exe"; Parameters: "/F /T /IM ""{#AppExe}"""; Flags: runhidden; RunOnceId: "QuitApp"

[UninstallDelete]
Type: filesandordirs; Name: "{app}\_internal"

[Code]
// The user's memory (conversation, facts, learned adapters, settings) lives under
// %LOCALAPPDATA%\Nexus Desktop, apart from the program. Uninstalling asks whether to keep it.
function UserDataDir(): String;
begin
  Result := ExpandConstant('{localappdata}\{#AppName}');
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usUninstall then
  begin
    // The app may have written the Run value itself (Settings > Start at login).
    RegDeleteValue(HKEY_CURRENT_USER, '{#RunKey}', '{#RunValue}');
    RegDeleteValue(HKEY_CURRENT_USER, '{#StartupApprovedKey}', '{#RunValue}');
  end;
  if (CurUninstallStep = usPostUninstall) and DirExists(UserDataDir()) then
  begin
    if UninstallSilent() then
      exit;
    if MsgBox('Keep your Nexus Desktop memory (the conversation, what it remembers and has ' +
              'learned, and your settings) in ' + UserDataDir() + '?' + #13#10#13#10 +
              'Choose Yes to keep it for a later installation, No to delete it.',
              mbConfirmation, MB_YESNO) = IDNO then
      DelTree(UserDataDir(), True, True, True);
  end;
end;
