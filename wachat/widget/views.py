from django.shortcuts import render


def home(request):
    """A landing page pointing at the demo, the emulator, the Center and the admin."""
    return render(request, "widget/home.html")


def demo_page(request):
    """A pretend business website with the one-line widget snippet embedded."""
    return render(request, "widget/demo.html")
