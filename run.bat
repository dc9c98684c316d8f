@echo off
rem MR-Linac QC: double-click to start. Creates .venv on first run, installs requirements.txt when it
rem changed, then opens the app in your browser (demo database on first start).
cd /d "%~dp0"
if not exist .venv\Scripts\python.exe (
  echo Creation de l'environnement Python...
  py -3 -m venv .venv || python -m venv .venv || (echo Python 3.11+ introuvable : installez-le depuis python.org & pause & exit /b 1)
)
fc /b requirements.txt .venv\requirements.installed >nul 2>&1
if errorlevel 1 (
  echo Installation des dependances...
  .venv\Scripts\python.exe -m pip install --disable-pip-version-check -q -r requirements.txt || (echo Echec de l'installation & pause & exit /b 1)
  copy /y requirements.txt .venv\requirements.installed >nul
)
.venv\Scripts\python.exe -m streamlit run app.py --server.headless false %*
pause
