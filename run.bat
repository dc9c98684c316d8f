@echo off
rem MR-Linac QC: double-click to start. Needs Python 3.11 or newer (python.org).
rem First run: creates .venv and installs requirements.txt (again only when it changes); a failed
rem creation or install deletes the incomplete .venv so that the next double-click starts clean.
rem Then starts the app (headless: no e-mail question) and opens it in the default browser
rem (first start: the demo's logged history is built in seconds, its images in the background).
setlocal
cd /d "%~dp0"
set "PORT=8501"
set "CHECK=import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)"

if not exist ".venv\Scripts\python.exe" goto :create_venv
".venv\Scripts\python.exe" -c "%CHECK%" >nul 2>&1
if errorlevel 1 goto :broken_venv
goto :install_check

:broken_venv
echo Le dossier .venv existant ne fonctionne pas ou a un Python trop ancien : il est supprime puis recree.
rmdir /s /q ".venv"
if exist ".venv" goto :cannot_delete

:create_venv
set "PY="
py -3 -c "%CHECK%" >nul 2>&1
if not errorlevel 1 set "PY=py -3"
if defined PY goto :have_python
python -c "%CHECK%" >nul 2>&1
if not errorlevel 1 set "PY=python"
if defined PY goto :have_python
echo.
echo Python 3.11 ou plus recent est introuvable sur ce PC.
echo Installez-le depuis https://www.python.org/downloads/ en cochant "Add python.exe to PATH",
echo puis double-cliquez de nouveau sur run.bat.
echo.
pause
exit /b 1

:have_python
echo Creation de l'environnement Python dans .venv ...
%PY% -m venv ".venv"
if errorlevel 1 goto :venv_failed
if not exist ".venv\Scripts\python.exe" goto :venv_failed

:install_check
fc /b requirements.txt ".venv\requirements.installed" >nul 2>&1
if not errorlevel 1 goto :start
echo Installation des dependances, quelques minutes la premiere fois ...
".venv\Scripts\python.exe" -m pip install --disable-pip-version-check -q -r requirements.txt
if errorlevel 1 goto :install_failed
copy /y requirements.txt ".venv\requirements.installed" >nul
goto :start

:venv_failed
echo.
echo La creation de l'environnement Python a echoue.
goto :remove_venv

:install_failed
echo.
echo L'installation des dependances a echoue : verifiez la connexion Internet ou le proxy de l'hopital.

:remove_venv
rmdir /s /q ".venv" >nul 2>&1
if exist ".venv" goto :cannot_delete
echo Le dossier .venv incomplet a ete supprime : double-cliquez de nouveau sur run.bat pour recommencer.
echo.
pause
exit /b 1

:cannot_delete
echo.
echo Impossible de supprimer le dossier "%~dp0.venv" : fermez les fenetres qui l'utilisent,
echo supprimez-le a la main, puis double-cliquez de nouveau sur run.bat.
echo.
pause
exit /b 1

:start
echo.
echo MR-Linac QC demarre sur http://localhost:%PORT% : le navigateur s'ouvre des que l'application repond.
echo Gardez cette fenetre ouverte pendant l'utilisation ; fermez-la pour arreter l'application.
echo.
start "" /b ".venv\Scripts\python.exe" -m qc.launcher "http://localhost:%PORT%"
".venv\Scripts\python.exe" -m streamlit run app.py --server.headless true --server.port %PORT% %*
pause
