"""The operators' console, as a service: what its pages (web/console/) read.

service.py  the reads (one store call each) and schedule lag
"""
